/**
 * Ledger and settlement benchmark: posting throughput (one writer and several), the settlement run
 * and the books check, on the engine DATABASE_URL selects (PGlite in memory otherwise). Prints a
 * table; asserts nothing about time.
 *
 *   node --import tsx bench/ledger.ts [merchants=50] [payments=2000] [writers=8]
 */
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { DEFAULT_SETTINGS, type Ctx } from "../src/context.ts";
import { connect, migrate } from "../src/db/index.ts";
import { ManualClock } from "../src/kernel/clock.ts";
import { SecretBox } from "../src/kernel/crypto/index.ts";
import { newId } from "../src/kernel/ids.ts";
import { createLogger } from "../src/kernel/log.ts";
import { computePaymentFee, postPaymentSucceeded, postRefundSucceeded } from "../src/ledger/index.ts";
import { createEntity, createMerchant } from "../src/merchants/index.ts";
import { checkBooks, runSettlement } from "../src/settlement/index.ts";
import { createPayoutDeps } from "../src/payouts/index.ts";
import { isValidUscc, usccCheckChar } from "../src/kernel/checks.ts";

const MERCHANTS = Number(process.argv[2] ?? 50);
const PAYMENTS = Number(process.argv[3] ?? 2_000);
const WRITERS = Number(process.argv[4] ?? 8);
const ACTOR = { operator_id: "op_bench", request_id: "req_bench" };

function uscc(): string {
  const body = `91310000MA${randomBytes(4).toString("hex").toUpperCase().replace(/[IOSVZ]/g, "1")}`.slice(0, 17);
  const code = body + usccCheckChar(body);
  if (!isValidUscc(code)) throw new Error("bad uscc");
  return code;
}

async function timed<T>(rows: string[][], label: string, count: number, fn: () => Promise<T>): Promise<T> {
  const start = process.hrtime.bigint();
  const result = await fn();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  rows.push([label, String(count), ms.toFixed(0), count > 0 ? ((count * 1000) / ms).toFixed(0) : "-"]);
  return result;
}

async function main(): Promise<void> {
  const schema = `bench_${randomBytes(4).toString("hex")}`;
  const handle = await connect({ database_url: process.env.DATABASE_URL, data_dir: "memory", schema, pool_size_max: WRITERS + 2 });
  const clock = new ManualClock("2026-03-02T02:00:00Z"); // Monday 10:00 Beijing
  const sink = new Writable({ write: (_c, _e, done) => done() });
  const ctx: Ctx = { db: handle.db, clock, box: new SecretBox(randomBytes(32)), log: createLogger("warn", sink), settings: DEFAULT_SETTINGS };
  const rows: string[][] = [];
  try {
    await migrate(handle.db);
    const merchants = await timed(rows, "create merchant IDs", MERCHANTS, async () => {
      const ids: string[] = [];
      for (let i = 0; i < MERCHANTS; i++) {
        const { entity } = await createEntity(ctx, { legal_name: `Bench ${i}`, uscc: uscc() }, ACTOR);
        const settlement = { mode: "own" as const, cycle_days: 1, account: { account_name: "Bench", account_number: `6222${String(i).padStart(12, "0")}1`, bank_code: "102290000012" } };
        const { merchant } = await createMerchant(ctx, { entity_id: entity.entity_id, name: "Bench", business_category: "retail", risk_level: "low", products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }], settlement }, ACTOR);
        ids.push(merchant.row.merchant_id);
      }
      return ids;
    });
    const payments: { payment_id: string; merchant_id: string }[] = [];
    const post = async (i: number) => {
      const merchant_id = merchants[i % merchants.length]!;
      const amount = BigInt(1_000 + ((i * 7919) % 100_000));
      const payment_id = newId("pay");
      await handle.db.transaction().execute(async (trx) => {
        const { fee } = await computePaymentFee(trx, merchant_id, amount);
        await postPaymentSucceeded(trx, { payment_id, merchant_id, amount, fee, channel_id: i % 2 ? "netsunion" : "unionpay_nocard", network_cost: amount / 500n, at: clock.now() });
      });
      payments.push({ payment_id, merchant_id });
    };
    const half = Math.floor(PAYMENTS / 2);
    await timed(rows, "payments, 1 writer", half, async () => {
      for (let i = 0; i < half; i++) await post(i);
    });
    await timed(rows, `payments, ${WRITERS} writers`, PAYMENTS - half, async () => {
      let next = half;
      await Promise.all(Array.from({ length: WRITERS }, async () => {
        while (next < PAYMENTS) await post(next++);
      }));
    });
    const refunds = Math.floor(payments.length / 10);
    await timed(rows, "partial refunds, 1 writer", refunds, async () => {
      for (const p of payments.slice(0, refunds)) {
        await handle.db.transaction().execute((trx) => postRefundSucceeded(trx, { refund_id: newId("ref"), payment_id: p.payment_id, merchant_id: p.merchant_id, amount: 500n, at: clock.now() }));
      }
    });
    clock.set("2026-03-03T01:00:00Z");
    const run = await timed(rows, "settlement run (instructions only)", MERCHANTS, () => runSettlement(createPayoutDeps(ctx, null), { date: "2026-03-03", execute: false }));
    await timed(rows, "settlement re-run (no change)", MERCHANTS, () => runSettlement(createPayoutDeps(ctx, null), { date: "2026-03-03", execute: false }));
    const check = await timed(rows, "books check", 1, () => checkBooks(handle.db));
    if (!check.ok || run.payouts_created !== MERCHANTS) throw new Error(`bench books inconsistent: ${JSON.stringify(check.problems)} ${run.payouts_created}`);
  } finally {
    await handle.db.schema.dropSchema(schema).ifExists().cascade().execute();
    await handle.close();
  }
  const engine = process.env.DATABASE_URL ? "postgres" : "pglite";
  const header = ["operation", "count", "ms", "per s"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(`ledger bench on ${engine}: ${MERCHANTS} merchant IDs, ${PAYMENTS} payments`);
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

await main();
