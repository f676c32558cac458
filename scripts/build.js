#!/usr/bin/env node
// `npm run build`: compiles src/ to JavaScript in dist/ and copies the files the code reads at run
// time (the SQL migrations). dist/.build-complete marks a finished build, so that a build
// interrupted half way is never taken for a current one.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");
const DIST = join(ROOT, "dist");

rmSync(DIST, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const compiled = spawnSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.build.json")], { cwd: ROOT, stdio: "inherit" });
if (compiled.status !== 0) {
  process.stderr.write("build: the TypeScript compiler failed\n");
  process.exit(compiled.status ?? 1);
}

/** Copies every non-TypeScript file under `dir` to the same place under dist/. */
function copyAssets(dir) {
  let copied = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      copied += copyAssets(path);
    } else if (!entry.name.endsWith(".ts")) {
      const target = join(DIST, relative(SRC, path));
      mkdirSync(dirname(target), { recursive: true });
      cpSync(path, target);
      copied += 1;
    }
  }
  return copied;
}

const assets = copyAssets(SRC);
writeFileSync(join(DIST, ".build-complete"), `${new Date().toISOString()}\n`);
process.stdout.write(`build: dist/ ready (${assets} asset files copied)\n`);
