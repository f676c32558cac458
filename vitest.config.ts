import { defineConfig } from "vitest/config";

// One worker process for the whole run: the embedded database (PGlite) takes seconds to start,
// so every suite shares one instance and gets a schema of its own (test/support/db.ts).
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    pool: "forks",
    poolOptions: { forks: { singleFork: true } },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
