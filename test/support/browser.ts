import { chromium, type Browser } from "playwright-core";

/**
 * The system Chromium (Debian's `chromium`, never a downloaded browser), headless, with the
 * flags this machine's closed network needs; Playwright gives it a fresh profile. `.ci/run`
 * installs it when it is missing.
 */
export const CHROMIUM_PATH = process.env.PAYCORE_CHROMIUM ?? "/usr/bin/chromium";

export async function launchBrowser(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return { browser, close: () => browser.close() };
}
