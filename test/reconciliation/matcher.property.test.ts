import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StatementRecord } from "../../src/channels/index.ts";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { runReconciliation } from "../../src/reconciliation/index.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard } from "../payments/helpers.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The matcher as a property: paycore's real records of a day (payments made over the live sandbox,
 * one of them declined) against a generated statement — each record listed as it is, left out,
 * with another amount, another fee or another network transaction id, the declined one listed as
 * succeeded or not, and lines nobody at paycore asked for. Whatever the mix, the run finds exactly
 * the injected differences, each as its kind and on its record, and matches all the rest.
 */
type Fate = "same" | "drop" | "amount" | "fee" | "other_txn";

interface Record_ {
  payment_id: string;
  txn_id: string;
  network_txn_id: string;
  amount: bigint;
  fee: bigint;
}

describe("matcher property: exactly the injected breaks", () => {
  const clock = new ManualClock("2026-06-16T03:00:00Z"); // Tuesday 11:00 Beijing
  const DAY = "2026-06-16";
  let app: TestApp;
  let client: PaycoreClient;
  let channel = "";
  const records: Record_[] = [];
  let declined: Record_;

  beforeAll(async () => {
    app = await startTestApp({ label: "recon_prop", clock, sandbox: true, channel_timeout_ms: 2_000 });
    const m = await createTestMerchant(app);
    client = app.merchantClient(m.creds);
    const card = pickCard(await catalogue(app), { unified: true });
    const agreement_id = await signCard(app, client, card, "sign-prop");
    const pay = async (i: number, amount: number) => {
      clock.advance(1_000);
      const res = await client.post<Json>("/v1/payments", { out_trade_no: `p-${i}`, agreement_id, amount, currency: "CNY", description: "prop" });
      expect(res.status, res.text).toBe(201);
      return res.body;
    };
    for (let i = 0; i < 8; i += 1) await pay(i, 1_000 + i * 1_111);
    channel = (await app.ctx.db.selectFrom("payments").select("channel_id").executeTakeFirstOrThrow()).channel_id!;
    await app.sandbox!.send("POST", "/sandbox/v1/faults", { channel, operation: "pay", kind: "decline", rate: 1, seed: 1 });
    expect((await pay(99, 4_321)).status).toBe("failed");
    await app.sandbox!.send("DELETE", "/sandbox/v1/faults");
    const rows = await app.ctx.db.selectFrom("payments").selectAll().orderBy("created_at").execute();
    for (const p of rows) {
      const r = { payment_id: p.payment_id, txn_id: p.txn_id, network_txn_id: p.network_txn_id ?? `NX${p.txn_id.slice(-18)}`, amount: p.amount, fee: p.network_cost ?? 0n };
      if (p.status === "succeeded") records.push(r);
      else declined = r;
    }
    expect(records).toHaveLength(8);
    clock.set("2026-06-16T22:00:00Z"); // 06:00 Beijing the next morning: the day is closed
  }, 180_000);
  afterAll(async () => app.close());

  async function forget(): Promise<void> {
    // Each sample is a first run of the day: the previous sample's run and exceptions go.
    const db = app.ctx.db;
    const runs = db.selectFrom("reconciliations").select("reconciliation_id").where("channel_id", "=", channel).where("settlement_date", "=", DAY);
    await db.deleteFrom("reconciliation_exceptions").where("channel_id", "=", channel).where("settlement_date", "=", DAY).execute();
    await db.deleteFrom("reconciliation_lines").where("reconciliation_id", "in", runs).execute();
    await db.deleteFrom("reconciliation_results").where("reconciliation_id", "in", runs).execute();
    await db.deleteFrom("reconciliations").where("channel_id", "=", channel).where("settlement_date", "=", DAY).execute();
  }

  const line = (r: Record_, change: Partial<Pick<StatementRecord, "amount_fen" | "fee_fen" | "network_txn_id">> = {}): StatementRecord => {
    const amount_fen = change.amount_fen ?? r.amount;
    const fee_fen = change.fee_fen ?? r.fee;
    return { kind: "pay", network_txn_id: change.network_txn_id ?? r.network_txn_id, txn_id: r.txn_id, order_id: r.payment_id, amount_fen, fee_fen, settlement_amount_fen: amount_fen - fee_fen, card_masked: "622202******1234" };
  };

  it("finds each injected difference as its kind, and nothing else", async () => {
    const fate = fc.constantFrom<Fate>("same", "same", "drop", "amount", "fee", "other_txn");
    await fc.assert(
      fc.asyncProperty(
        fc.array(fate, { minLength: 8, maxLength: 8 }),
        fc.array(fc.integer({ min: 100, max: 99_999 }), { maxLength: 3 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 500 }),
        async (fates, extras, list_declined, delta) => {
          await forget();
          const file: StatementRecord[] = [];
          const want: { kind: string; key: string }[] = [];
          fates.forEach((f, i) => {
            const r = records[i]!;
            switch (f) {
              case "same":
                return file.push(line(r));
              case "drop":
                return want.push({ kind: "platform_only", key: r.payment_id });
              case "amount":
                file.push(line(r, { amount_fen: r.amount + BigInt(delta) }));
                return want.push({ kind: "amount_mismatch", key: r.payment_id });
              case "fee":
                file.push(line(r, { fee_fen: r.fee + BigInt(delta) }));
                return want.push({ kind: "fee_mismatch", key: r.payment_id });
              case "other_txn": {
                const network_txn_id = `OT${r.network_txn_id.slice(-12)}${i}`;
                file.push(line(r, { network_txn_id }));
                return want.push({ kind: "network_only", key: network_txn_id });
              }
            }
          });
          extras.forEach((amount, i) => {
            const network_txn_id = `EX${DAY.replace(/-/g, "")}${i}${amount}`;
            file.push({ kind: "pay", network_txn_id, txn_id: `EXT${i}${amount}`, order_id: `ext_${i}_${amount}`, amount_fen: BigInt(amount), fee_fen: 1n, settlement_amount_fen: BigInt(amount) - 1n, card_masked: "622202******1234" });
            want.push({ kind: "network_only", key: network_txn_id });
          });
          if (list_declined) {
            file.push(line(declined));
            want.push({ kind: "status_mismatch", key: declined.payment_id });
          }
          const { run } = await runReconciliation(app.deps, { channel_id: channel, date: DAY, file: { sha256: null, records: file }, auto_resolve: false, settlement_source: null });
          const found = await app.ctx.db.selectFrom("reconciliation_exceptions").selectAll().where("reconciliation_id", "=", run.reconciliation_id).execute();
          const got = found.map((e) => ({ kind: e.kind, key: e.kind === "network_only" ? e.network_txn_id! : e.payment_id! }));
          const order = (a: { kind: string; key: string }, b: { kind: string; key: string }) => `${a.kind}${a.key}`.localeCompare(`${b.kind}${b.key}`);
          expect(got.sort(order)).toEqual([...want].sort(order));
          const matched = await app.ctx.db.selectFrom("reconciliation_results").select("item_count").where("reconciliation_id", "=", run.reconciliation_id).where("result", "=", "matched").executeTakeFirst();
          expect(Number(matched?.item_count ?? 0n)).toBe(fates.filter((f) => f === "same").length);
        },
      ),
      { numRuns: 40 },
    );
  }, 300_000);
});
