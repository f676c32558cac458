import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createLogger } from "../kernel/log.ts";
import { DEFAULT_SANDBOX_PORT, DEFAULT_SANDBOX_SEED, startSandbox, type WorldOptions } from "./index.ts";

/** `npm run sandbox`: the sandbox networks on their own. */
const log = createLogger(process.env.SANDBOX_LOG_LEVEL ?? "info");
const port = Number(process.env.SANDBOX_PORT ?? DEFAULT_SANDBOX_PORT);
// `memory` keeps nothing for paycore's database; the sandbox still needs a directory for its keys.
const configured_dir = process.env.PAYCORE_DATA_DIR ?? "./data";
const data_dir = configured_dir === "memory" ? mkdtempSync(join(tmpdir(), "paycore-sandbox-")) : resolve(configured_dir);
const seed = Number(process.env.SANDBOX_SEED ?? DEFAULT_SANDBOX_SEED);
if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`SANDBOX_PORT must be a port number, got ${process.env.SANDBOX_PORT}`);
if (!Number.isInteger(seed) || seed < 0) throw new Error(`SANDBOX_SEED must be a non-negative integer, got ${process.env.SANDBOX_SEED}`);
/** How much of the world stays in memory (docs/sandbox.md, "How much is kept"): defaults in src/sandbox/limits.ts. */
const world: WorldOptions = {};
const WORLD_ENV = [
  ["SANDBOX_RECORDS_MAX", "records_max"], ["SANDBOX_RECORDS_RETENTION_MS", "records_retention_ms"], ["SANDBOX_AGREEMENTS_MAX", "agreements_max"],
  ["SANDBOX_RAIL_TRANSFERS_MAX", "rail_transfers_max"], ["SANDBOX_RAIL_IN_FLIGHT_MAX", "rail_in_flight_max"], ["SANDBOX_RAIL_DEPOSITS_MAX", "rail_deposits_max"],
] as const;
for (const [name, field] of WORLD_ENV) {
  const text = process.env[name];
  if (text === undefined) continue;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${text}`);
  world[field] = value;
}

const sandbox = await startSandbox({
  host: process.env.SANDBOX_HOST ?? "127.0.0.1",
  port,
  data_dir,
  seed,
  log,
  keep_state: configured_dir !== "memory",
  world,
  ...(process.env.PAYCORE_CALLBACK_URL ? { paycore_callback_url: process.env.PAYCORE_CALLBACK_URL } : {}),
});
log.info({ url: sandbox.url, data_dir }, "sandbox listening; SMS inbox at /sandbox/inbox");

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void sandbox.close().then(() => process.exit(0));
  });
}
