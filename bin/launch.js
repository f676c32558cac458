// Runs one of paycore's entry points (`cli/main`, `sandbox/main`) from the JavaScript build in
// dist/. When dist/ is missing or older than src/ and the TypeScript compiler is installed, it
// builds first (`npm run build`); an installation without the compiler needs a built dist/.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");
const DIST = join(ROOT, "dist");
const STAMP = join(DIST, ".build-complete");

/** The newest modification time of any file under `dir`, in milliseconds. */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newest(path) : statSync(path).mtimeMs;
    if (mtime > latest) latest = mtime;
  }
  return latest;
}

function compilerInstalled() {
  try {
    createRequire(import.meta.url).resolve("typescript/bin/tsc");
    return true;
  } catch {
    return false;
  }
}

function buildIsCurrent() {
  if (!existsSync(STAMP)) return false;
  // A checkout without src/ (a packaged install) runs what was built.
  if (!existsSync(SRC)) return true;
  return statSync(STAMP).mtimeMs >= newest(SRC);
}

/** Builds dist/ when it is missing or older than src/ (exits when it cannot). */
export function ensureBuilt() {
  if (!buildIsCurrent()) {
    if (!compilerInstalled()) {
      const why = existsSync(STAMP) ? "is older than src/" : "is missing";
      process.stderr.write(`paycore: the JavaScript build in dist/ ${why} and TypeScript is not installed; run \`npm run build\` where the development dependencies are installed\n`);
      process.exit(1);
    }
    process.stderr.write("paycore: building dist/ from src/ (npm run build)…\n");
    const built = spawnSync(process.execPath, [join(ROOT, "scripts", "build.js")], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
    if (built.status !== 0) process.exit(built.status ?? 1);
  }
}

export async function launch(entry) {
  ensureBuilt();
  await import(pathToFileURL(join(DIST, `${entry}.js`)).href);
}
