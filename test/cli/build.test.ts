import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AS_NPM_START, cliStorage, readBanner, startCli } from "../support/cli.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const DIST = join(ROOT, "dist");

/** Runs `npm run build` without blocking this worker (a blocked worker loses its link to Vitest). */
function build(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["scripts/build.js"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("exit", (code) => resolve({ code, output }));
  });
}

function javascriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? javascriptFiles(join(dir, e.name)) : e.name.endsWith(".js") ? [join(dir, e.name)] : [],
  );
}

describe("production start: `npm run build` to JavaScript, `npm start` runs the build without a TypeScript loader", () => {
  let storage: Awaited<ReturnType<typeof cliStorage>>;

  beforeAll(async () => {
    storage = await cliStorage();
  });
  afterAll(async () => storage.cleanup());

  it("tsx is a development dependency only, and the start script runs the built launcher", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
      scripts: Record<string, string>;
    };
    expect(pkg.dependencies).not.toHaveProperty("tsx");
    expect(pkg.devDependencies).toHaveProperty("tsx");
    expect(pkg.scripts.start).toBe("node bin/paycore.js start");
    expect(pkg.scripts.start).not.toMatch(/tsx/);
    expect(readFileSync(join(ROOT, "bin", "launch.js"), "utf8")).not.toMatch(/tsx/);
  });

  it("builds dist/ with the migrations and only JavaScript imports, then starts from it and takes a payment", { timeout: 300_000 }, async () => {
    const built = await build();
    expect(built.code, built.output).toBe(0);
    expect(existsSync(join(DIST, ".build-complete"))).toBe(true);
    const migrations = readdirSync(join(ROOT, "src", "db", "migrations"));
    expect(readdirSync(join(DIST, "db", "migrations")).sort()).toEqual(migrations.sort());
    const files = javascriptFiles(DIST);
    expect(files.length).toBeGreaterThan(50);
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      expect(text, file).not.toMatch(/from\s+["']\.{1,2}\/[^"']*\.ts["']/);
      expect(text, file).not.toMatch(/import\(["']\.{1,2}\/[^"']*\.ts["']\)/);
    }

    // Plain node, no loader: the launcher finds a current build and imports dist/cli/main.js.
    const running = await startCli({ ...storage.env, PORT: "0", SANDBOX_PORT: "0", PAYCORE_LOG_LEVEL: "warn" }, AS_NPM_START);
    try {
      expect(running.output()).not.toMatch(/building dist/);
      const { api: url, client } = readBanner(running.banner);
      const balance = await client.get("/v1/balance");
      expect(balance.status).toBe(200);
      expect(balance.signature_valid).toBe(true);
      const docs = await fetch(`${url}/console/`);
      expect(docs.status).toBe(200);
    } finally {
      expect(await running.stop()).toBe(0);
    }
  });
});
