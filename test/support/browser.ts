import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { CONSOLE_DIST } from "../../src/api/console.ts";
import { runCommand } from "./run.ts";

/**
 * The system Chromium (Debian's `chromium`, never a downloaded browser), headless, with the
 * flags this machine's closed network needs; Playwright gives it a fresh profile. `.ci/run`
 * installs it when it is missing.
 */
const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium", "/snap/bin/chromium"];

/** The Chromium to drive: PAYCORE_CHROMIUM if set, else the first system Chromium found; null when none. */
export const CHROMIUM_PATH: string | null = process.env.PAYCORE_CHROMIUM ?? CANDIDATES.find((path) => existsSync(path)) ?? null;

/**
 * Browser tests run when a Chromium is found. Without one they are skipped with one loud line —
 * `npm test` passes on a fresh machine — unless PAYCORE_REQUIRE_BROWSER=1 (set by `.ci/run`),
 * which makes a missing browser a failure.
 */
export function browserAvailable(): boolean {
  if (CHROMIUM_PATH && existsSync(CHROMIUM_PATH)) return true;
  const where = process.env.PAYCORE_CHROMIUM ? `PAYCORE_CHROMIUM=${process.env.PAYCORE_CHROMIUM} does not exist` : `no Chromium at ${CANDIDATES.join(", ")}`;
  if (process.env.PAYCORE_REQUIRE_BROWSER === "1") throw new Error(`browser tests need Chromium (PAYCORE_REQUIRE_BROWSER=1): ${where}`);
  // One line per run, however many browser suites ask (they share the one worker process).
  const said = globalThis as { __paycore_browser_skip_said?: boolean };
  if (said.__paycore_browser_skip_said) return false;
  said.__paycore_browser_skip_said = true;
  console.warn(`\n!!! BROWSER TESTS SKIPPED: ${where}. To run them: apt-get install chromium (or set PAYCORE_CHROMIUM=/path/to/chromium). !!!\n`);
  return false;
}

export async function launchBrowser(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH ?? "chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return { browser, close: () => browser.close() };
}

/** Where the console's browser tests save their screenshots. */
export const ARTIFACTS = join(process.cwd(), "test-artifacts", "console");

/** The console is built by `npm install` (prepare); a checkout without the build gets one here. */
export async function ensureConsoleBuilt(): Promise<void> {
  if (existsSync(join(CONSOLE_DIST, "index.html"))) return;
  const built = await runCommand("npm", ["run", "build", "-w", "@paycore/console"], { timeout_ms: 180_000 });
  if (built.status !== 0) throw new Error(`console build failed: ${built.stderr.slice(-2000)}`);
}
