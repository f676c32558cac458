import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createLogger } from "../kernel/log.ts";
import { DEFAULT_SANDBOX_PORT, DEFAULT_SANDBOX_SEED, startSandbox } from "./index.ts";

/** `npm run sandbox`: the sandbox networks on their own. */
const log = createLogger(process.env.SANDBOX_LOG_LEVEL ?? "info");
const port = Number(process.env.SANDBOX_PORT ?? DEFAULT_SANDBOX_PORT);
// `memory` keeps nothing for paycore's database; the sandbox still needs a directory for its keys.
const configured_dir = process.env.PAYCORE_DATA_DIR ?? "./data";
const data_dir = configured_dir === "memory" ? mkdtempSync(join(tmpdir(), "paycore-sandbox-")) : resolve(configured_dir);
const seed = Number(process.env.SANDBOX_SEED ?? DEFAULT_SANDBOX_SEED);
if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`SANDBOX_PORT must be a port number, got ${process.env.SANDBOX_PORT}`);
if (!Number.isInteger(seed) || seed < 0) throw new Error(`SANDBOX_SEED must be a non-negative integer, got ${process.env.SANDBOX_SEED}`);

const sandbox = await startSandbox({
  host: process.env.SANDBOX_HOST ?? "127.0.0.1",
  port,
  data_dir,
  seed,
  log,
  keep_state: configured_dir !== "memory",
  ...(process.env.PAYCORE_CALLBACK_URL ? { paycore_callback_url: process.env.PAYCORE_CALLBACK_URL } : {}),
});
log.info({ url: sandbox.url, data_dir }, "sandbox listening; SMS inbox at /sandbox/inbox");

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void sandbox.close().then(() => process.exit(0));
  });
}
