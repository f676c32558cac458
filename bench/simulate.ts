/**
 * `npm run simulate -- risk [--seed N] [--scale X]`: drives a real paycore server and the sandbox
 * networks (in this process, on 127.0.0.1, everything over HTTP) with four weeks of traffic from
 * normal and gambling-like merchants on a fast-forwarded clock, runs the merchant monitor and
 * prints its precision and recall with every merchant's score and top signals.
 * PGlite in memory by default; DATABASE_URL=postgres://… uses PostgreSQL (a schema of its own).
 */
import { parseArgs } from "node:util";
import { ManualClock } from "../src/kernel/clock.ts";
import { startTestApp } from "../test/support/app.ts";
import { mondayBeijing, simulateRisk } from "./simulate/risk-traffic.ts";

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: { seed: { type: "string" }, scale: { type: "string" } } });
  if (positionals[0] !== "risk") {
    console.error("usage: npm run simulate -- risk [--seed N] [--scale X]");
    return 2;
  }
  const clock = new ManualClock(mondayBeijing(new Date("2026-03-01T00:00:00Z")));
  const app = await startTestApp({ label: "simulate_risk", clock, sandbox: true });
  try {
    const started = Date.now();
    const result = await simulateRisk(
      { clock, admin: app.admin, merchantClient: (c) => app.merchantClient(c), sandbox: app.sandbox! },
      { seed: Number(values.seed ?? 13), scale: Number(values.scale ?? 1), log: (l) => console.log(l) },
    );
    console.log(`\n| merchant | category | truth | score | flagged | top signals |\n|---|---|---|---|---|---|`);
    for (const m of result.merchants) {
      console.log(`| ${m.name} | ${m.category} | ${m.gambling ? "gambling-like" : "normal"} | ${m.score} | ${m.flagged ? "yes" : "no"} | ${m.top_signals.join(", ")} |`);
    }
    console.log(`\npayments ${result.payments} (${result.failed_payments} failed or refused), flag threshold ${result.threshold}`);
    console.log(`precision ${result.precision.toFixed(2)}, recall ${result.recall.toFixed(2)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    return result.precision >= 0.9 && result.recall >= 0.9 ? 0 : 1;
  } finally {
    await app.close();
  }
}

process.exitCode = await main();
