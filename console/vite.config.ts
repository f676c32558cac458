import { defineConfig } from "vite";

// Served by paycore at /console; every asset is bundled (no CDN), so it works with no network.
export default defineConfig({
  base: "/console/",
  oxc: { jsx: { runtime: "automatic", importSource: "react" } },
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 2_000 },
});
