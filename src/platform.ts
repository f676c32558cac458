import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { allRoutes, buildServer, sweepExpired } from "./api/index.ts";
import type { PaymentDeps } from "./payments/deps.ts";
import type { RouteDef } from "./api/route.ts";
import type { Config } from "./config.ts";
import { createMetrics } from "./metrics/index.ts";
import { warmSm2Tables } from "./kernel/crypto/index.ts";

export const VERSION = "0.1.0";

/**
 * The master key seals secrets at rest (API key secrets, settlement accounts, card data).
 * From config (`PAYCORE_MASTER_KEY`), else a key generated once into the data directory;
 * `memory` gets a throwaway key.
 */
export function loadMasterKey(config: Pick<Config, "master_key_hex" | "data_dir">): { key: Buffer; source: string } {
  if (config.master_key_hex) return { key: Buffer.from(config.master_key_hex, "hex"), source: "PAYCORE_MASTER_KEY" };
  if (config.data_dir === "memory") return { key: randomBytes(32), source: "generated (memory: nothing kept)" };
  const path = join(config.data_dir, "master.key");
  if (!existsSync(path)) {
    mkdirSync(config.data_dir, { recursive: true });
    writeFileSync(path, randomBytes(32).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
  }
  const hex = readFileSync(path, "utf8").trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${path}: not a 64-hex-character master key`);
  return { key: Buffer.from(hex, "hex"), source: path };
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Expired nonces and idempotency keys, old risk counter buckets (src/api/sweeper.ts): often, in bounded batches. */
const SWEEP_INTERVAL_MS = 10_000;

/** How long closing the server waits for requests in flight before it closes their connections. */
export const SHUTDOWN_GRACE_MS = 10_000;

/** Builds the HTTP server on `ctx`, listens, and runs the expiry sweeper until closed. */
export async function startServer(
  deps: PaymentDeps,
  options: { host: string; port: number; routes?: RouteDef[] },
): Promise<RunningServer> {
  const ctx = deps.ctx;
  const metrics = createMetrics(deps);
  const app = buildServer(ctx, { routes: options.routes ?? allRoutes(deps), version: VERSION, metrics });
  // G's SM2 tables (about 0.1 s of CPU) before the first payment, not inside its network call's timeout.
  warmSm2Tables();
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const url = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;
  const sweeper = setInterval(() => {
    sweepExpired(ctx).catch((err: Error) => ctx.log.warn({ err: err.message }, "expiry sweep failed"));
  }, SWEEP_INTERVAL_MS);
  sweeper.unref();
  return {
    app,
    url,
    close: async () => {
      clearInterval(sweeper);
      // Requests in flight get a grace to finish; then every connection is closed, also one whose
      // client never finished sending its request (Node would keep it until the request timeout).
      // A payment cut off here is an intent the sweeper finishes (docs/reliability.md).
      const force = setTimeout(() => app.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
      metrics.close();
    },
  };
}
