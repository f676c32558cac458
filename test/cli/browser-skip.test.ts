import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCommand } from "../support/run.ts";

const ROOT = join(import.meta.dirname, "..", "..");

/** `npm test` on a machine without Chromium: the browser suite is skipped loudly, unless CI requires it. */
describe("browser tests without a Chromium", () => {
  const run = (env: Record<string, string>) =>
    runCommand(process.execPath, [join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", "test/browser", "--reporter=dot"], {
      cwd: ROOT, timeout_ms: 120_000, env: { PATH: process.env.PATH, HOME: process.env.HOME, PAYCORE_CHROMIUM: "/nonexistent/chromium", ...env },
    });

  it("skip with one loud line saying how to enable them, and pass", async () => {
    const r = await run({});
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const loud = (r.stdout + r.stderr).split("\n").filter((line) => line.includes("BROWSER TESTS SKIPPED"));
    expect(loud).toHaveLength(1);
    expect(loud[0]).toMatch(/apt-get install chromium.*PAYCORE_CHROMIUM/);
  }, 130_000);

  it("fail when PAYCORE_REQUIRE_BROWSER=1 (as .ci/run sets it)", async () => {
    const r = await run({ PAYCORE_REQUIRE_BROWSER: "1" });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/browser tests need Chromium/);
  }, 130_000);
});
