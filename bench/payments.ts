/**
 * Agreement payments through the whole stack: signed HTTP request → paycore → channel adapter →
 * sandbox network (signed and encrypted messages) → ledger entry and outbox event. Prints
 * latency percentiles and throughput, sequential and with concurrency.
 *
 *   npm run bench                                   # embedded PGlite
 *   DATABASE_URL=postgres://…/test npm run bench    # PostgreSQL
 */
import { createTestMerchant, startTestApp } from "../test/support/app.ts";
import { catalogue, pickCard, signCard } from "../test/payments/helpers.ts";

const PAYMENTS_PER_RUN = 200;
const CONCURRENCY = 8;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function benchPayments(): Promise<Record<string, string | number>[]> {
  const app = await startTestApp({ label: "bench", sandbox: true });
  try {
    const m = await createTestMerchant(app);
    const client = app.merchantClient(m.creds);
    const card = pickCard(await catalogue(app), { unified: true });
    const agreement_id = await signCard(app, client, card, "bench-sign");
    let n = 0;
    const one = async () => {
      n += 1;
      const t0 = performance.now();
      const res = await client.post<{ status: string }>("/v1/payments", { out_trade_no: `bench-${n}`, agreement_id, amount: 100, currency: "CNY", description: "bench" });
      if (res.body.status !== "succeeded") throw new Error(`payment ${n}: ${res.text}`);
      return performance.now() - t0;
    };
    const rows: Record<string, string | number>[] = [];
    for (const concurrency of [1, CONCURRENCY]) {
      const latencies: number[] = [];
      const started = performance.now();
      const workers = Array.from({ length: concurrency }, async () => {
        while (latencies.length < PAYMENTS_PER_RUN) latencies.push(await one());
      });
      await Promise.all(workers);
      const seconds = (performance.now() - started) / 1000;
      latencies.sort((a, b) => a - b);
      rows.push({
        bench: "POST /v1/payments",
        engine: process.env.DATABASE_URL ? "postgres" : "pglite",
        concurrency,
        payments: latencies.length,
        "p50 ms": percentile(latencies, 50).toFixed(1),
        "p95 ms": percentile(latencies, 95).toFixed(1),
        "payments/s": (latencies.length / seconds).toFixed(1),
      });
    }
    return rows;
  } finally {
    await app.close();
  }
}
