/** `npm run bench [-- payments|ledger|sm2|risk|recon|http|sandbox]`: benchmarks, each printing a table. Never part of `npm test`. */
import { spawnSync } from "node:child_process";
import { benchHttpClient } from "./http-client.ts";
import { benchPayments } from "./payments.ts";
import { benchRisk } from "./risk.ts";
import { benchSandbox } from "./sandbox.ts";
import { benchSm2 } from "./sm2.ts";

/** bench/ledger.ts prints its own table (engine from DATABASE_URL; PGlite otherwise). */
async function benchLedger(): Promise<Record<string, string | number>[]> {
  const r = spawnSync(process.execPath, ["--import", "tsx", "bench/ledger.ts"], { stdio: "inherit", env: process.env });
  if (r.status !== 0) throw new Error("bench/ledger.ts failed");
  return [];
}

/** bench/recon.ts prints its own table, in a process of its own (its RSS is what is measured). */
async function benchRecon(): Promise<Record<string, string | number>[]> {
  const r = spawnSync(process.execPath, ["--import", "tsx", "bench/recon.ts", ...(process.env.BENCH_RECON_LINES ? [process.env.BENCH_RECON_LINES] : [])], { stdio: "inherit", env: process.env });
  if (r.status !== 0) throw new Error("bench/recon.ts failed");
  return [];
}

const benches: [string, () => Promise<Record<string, string | number>[]>][] = [
  ["payments", benchPayments],
  ["ledger", benchLedger],
  ["sm2", benchSm2],
  ["risk", benchRisk],
  ["recon", benchRecon],
  ["http", benchHttpClient],
  ["sandbox", benchSandbox],
];
const only = process.argv[2];
for (const [name, run] of benches) {
  if (only && only !== name) continue;
  console.log(`\n== ${name}`);
  const rows = await run();
  if (rows.length) console.table(rows);
}
process.exit(0);
