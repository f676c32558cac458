import fc from "fast-check";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CardRow, PaymentRow } from "../../src/db/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { newId } from "../../src/kernel/ids.ts";
import { insertIntent } from "../../src/payments/intent.ts";
import { arrayLiteral, windowUsage, type ScopeKeys } from "../../src/risk/counters.ts";
import { countWindows, judgeInStatement, judgeRules, lockKeys, outcomeOf, type Attempt } from "../../src/risk/evaluate.ts";
import { countersOnly, releaseFailedPayment } from "../../src/risk/index.ts";
import type { RuleScope } from "../../src/risk/rows.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { freshAgreement } from "./helpers.ts";

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** A UTC midnight; the history lies on both sides of it. */
const MIDNIGHT = Date.parse("2026-05-05T00:00:00.000Z");

/**
 * Since migration 1960 the database, not the client, splits a payment's window into its raw edge
 * (up to the next whole minute) and its minute, hour and day bucket ranges, from the window's start
 * in epoch milliseconds. The count must still be exactly what counting the payments says for any
 * start: payments are placed on and one millisecond either side of minute, hour and UTC-day
 * boundaries, and window starts are drawn there and anywhere (fast-check;
 * PAYCORE_RISK_SEED replays a failure).
 */
describe("payment windows split into ranges in SQL", () => {
  const clock = new ManualClock(new Date(MIDNIGHT - 2 * DAY));
  let app: TestApp;
  const payers: { card: CardRow; keys: ScopeKeys; agreement_id: string }[] = [];
  const instants: number[] = [];

  beforeAll(async () => {
    app = await startTestApp({ label: "risk_windows", clock, sandbox: true });
    const m = await createTestMerchant(app, { name: "Windows M" });
    const n = await createTestMerchant(app, { name: "Windows N" }, m.entity_id);
    const M = app.merchantClient(m.creds);
    const N = app.merchantClient(n.creds);
    const first = await freshAgreement(app, M);
    const same_person = await freshAgreement(app, N, { id_number: first.card.id_number, holder_name: first.card.holder_name });
    for (const agreement_id of [first.agreement_id, same_person.agreement_id]) {
      const row = await app.ctx.db.selectFrom("agreements").innerJoin("cards", "cards.card_id", "agreements.card_id").selectAll("cards").select(["agreements.merchant_id"]).where("agreements.agreement_id", "=", agreement_id).executeTakeFirstOrThrow();
      payers.push({ card: row as CardRow, agreement_id, keys: { card_id: row.card_id, id_fingerprint: row.id_fingerprint, merchant_id: row.merchant_id } });
    }
    // On and around the boundaries of the last minute, hour and day before midnight and the first after.
    // (and of whole seconds inside a minute: a merchant ID's edge is read from second buckets since migration 2190).
    const edges = [MIDNIGHT - DAY, MIDNIGHT - HOUR, MIDNIGHT - MINUTE, MIDNIGHT, MIDNIGHT + MINUTE, MIDNIGHT + 2 * MINUTE + 30_000, MIDNIGHT + HOUR, MIDNIGHT + HOUR + 17 * MINUTE + 4_321];
    for (const e of edges) instants.push(e - 1, e, e + 1);
    instants.sort((a, b) => a - b);
    let k = 0;
    for (const at of instants) {
      const payer = payers[k++ % payers.length]!;
      const amount = BigInt(100 + k);
      const row = paymentRow(payer, amount, new Date(at));
      const r = await insertIntent(app.ctx.db, row, countersOnly({ subject: "payment", keys: payer.keys, id: row.payment_id, at: row.created_at, count: 1n, amount }), null);
      expect(r.kind).toBe("inserted");
      // Every third payment fails: its amount leaves its buckets, its attempt stays.
      if (k % 3 === 0) {
        await app.ctx.db.transaction().execute(async (trx) => {
          const failed = await trx.updateTable("payments").set({ status: "failed", failed_at: row.created_at }).where("payment_id", "=", row.payment_id).returningAll().executeTakeFirstOrThrow();
          await releaseFailedPayment(trx, failed);
        });
      }
    }
    // Minutes written partly by a process of the previous release (during a rolling start): its
    // payments get no second bucket, and its release of a failed payment leaves the fine_* columns
    // alone. Those minutes' merchant-ID edges must still count exactly (from the payments).
    const old_release = [MIDNIGHT + 3 * MINUTE + 10_000, MIDNIGHT + 3 * MINUTE + 20_500];
    for (const at of old_release) {
      const payer = payers[0]!;
      const row = paymentRow(payer, 777n, new Date(at));
      await app.ctx.db.insertInto("payments").values(row).execute();
      await previousReleaseUpsert(payer.keys, row.created_at, 1n, 777n);
    }
    const released_by_old = MIDNIGHT + 4 * MINUTE + 15_000;
    for (const at of [released_by_old, released_by_old + 2_000]) {
      const row = paymentRow(payers[0]!, 555n, new Date(at));
      const r = await insertIntent(app.ctx.db, row, countersOnly({ subject: "payment", keys: payers[0]!.keys, id: row.payment_id, at: row.created_at, count: 1n, amount: 555n }), null);
      expect(r.kind).toBe("inserted");
    }
    const first_of_minute = await app.ctx.db.selectFrom("payments").select("payment_id").where("created_at", "=", new Date(released_by_old)).executeTakeFirstOrThrow();
    await app.ctx.db.updateTable("payments").set({ status: "failed", failed_at: new Date(released_by_old) }).where("payment_id", "=", first_of_minute.payment_id).execute();
    await previousReleaseUpsert(payers[0]!.keys, new Date(released_by_old), 0n, -555n);
    for (const at of [...old_release, released_by_old, released_by_old + 2_000]) instants.push(at - 1, at, at + 1);
    instants.sort((a, b) => a - b);
  });
  afterAll(async () => app.close());

  /** The counter upsert of the release before migration 2190: minute, hour and day buckets only, fine_* left alone. */
  async function previousReleaseUpsert(keys: ScopeKeys, at: Date, count: bigint, amount: bigint): Promise<void> {
    await sql`INSERT INTO risk_counters (scope_key, width_s, bucket_start, stripe, count, amount)
      SELECT k.scope_key, w.width_s, date_bin(make_interval(secs => w.width_s), ${at}::timestamptz, TIMESTAMPTZ '1970-01-01 00:00:00+00'), 0, ${count}::int8, ${amount}::int8
        FROM unnest(${[`payment:card:${keys.card_id}`, `payment:id:${keys.id_fingerprint}`, `payment:merchant:${keys.merchant_id}`].sort()}::text[]) AS k(scope_key)
        CROSS JOIN (VALUES (60), (3600), (86400)) AS w(width_s)
      ON CONFLICT (scope_key, width_s, bucket_start, stripe)
      DO UPDATE SET count = risk_counters.count + excluded.count, amount = risk_counters.amount + excluded.amount`.execute(app.ctx.db);
  }

  it("write a merchant ID's second bucket, and fine_* as count and amount, with a payment's buckets", async () => {
    const keys = payers[1]!.keys;
    const rows = await sql<{ scope_key: string; width_s: number; bucket_start: Date; n: string; a: string; fn: string; fa: string }>`SELECT scope_key, width_s, bucket_start, sum(count)::text AS n, sum(amount)::text AS a, sum(fine_count)::text AS fn, sum(fine_amount)::text AS fa
      FROM risk_counters WHERE scope_key IN (${`payment:merchant:${keys.merchant_id}`}, ${`payment:card:${keys.card_id}`}) AND bucket_start >= ${new Date(MIDNIGHT - DAY)} AND bucket_start < ${new Date(MIDNIGHT + MINUTE)}
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`.execute(app.ctx.db);
    const merchant_seconds = rows.rows.filter((r) => r.scope_key.startsWith("payment:merchant:") && r.width_s === 1);
    expect(merchant_seconds.length).toBeGreaterThan(0);
    expect(rows.rows.filter((r) => r.scope_key.startsWith("payment:card:") && r.width_s === 1)).toEqual([]);
    // Written by this release only: every row's fine_* equal its count and amount.
    for (const r of rows.rows) expect([r.fn, r.fa]).toEqual([r.n, r.a]);
    // The seconds of a minute add up to its minute bucket.
    const minute = rows.rows.find((r) => r.scope_key.startsWith("payment:merchant:") && r.width_s === 60 && r.bucket_start.getTime() === MIDNIGHT)!;
    const in_minute = merchant_seconds.filter((r) => r.bucket_start.getTime() >= MIDNIGHT && r.bucket_start.getTime() < MIDNIGHT + MINUTE);
    expect([in_minute.reduce((s, r) => s + BigInt(r.n), 0n), in_minute.reduce((s, r) => s + BigInt(r.a), 0n)]).toEqual([BigInt(minute.n), BigInt(minute.a)]);
  });

  it("count what the payments say for any window start", async () => {
    const scope = fc.constantFrom<RuleScope>("card", "id_holder", "merchant");
    const near = fc.tuple(fc.constantFrom(...instants), fc.integer({ min: -2, max: 2 })).map(([t, d]) => t + d);
    const anywhere = fc.integer({ min: instants[0]! - 2 * DAY, max: instants[instants.length - 1]! + MINUTE });
    const windows = fc.array(fc.record({ scope, since: fc.oneof(near, anywhere) }), { minLength: 1, maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1), windows, async (p, ws) => {
        const keys = payers[p]!.keys;
        const got = await windowUsage(app.ctx.db, "payment", keys, ws.map((w) => ({ scope: w.scope, since: new Date(w.since) })));
        const want = await Promise.all(ws.map((w) => directCount(w.scope, keys, new Date(w.since))));
        expect(got).toEqual(want);
      }),
      { numRuns: 80, ...(process.env.PAYCORE_RISK_SEED ? { seed: Number(process.env.PAYCORE_RISK_SEED) } : {}) },
    );
  });

  it("leave out only windows whose rooms hold what they count (migration 2260)", async () => {
    const scope = fc.constantFrom<RuleScope>("card", "id_holder", "merchant");
    const since = fc.oneof(
      fc.tuple(fc.constantFrom(...instants), fc.integer({ min: -2, max: 2 })).map(([t, d]) => t + d),
      fc.integer({ min: instants[0]! - 2 * DAY, max: instants[instants.length - 1]! + MINUTE }),
    );
    // Rooms around what the windows hold (up to 20 attempts, some thousands of fen), or no limit.
    const room = (max: number) => fc.option(fc.integer({ min: -1, max }).map(BigInt), { nil: null });
    const windows = fc.array(fc.record({ scope, since, count_room: room(40), amount_room: room(8_000) }), { minLength: 1, maxLength: 6 });
    let left_out = 0;
    let counted = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1), windows, async (p, ws) => {
        const keys = payers[p]!.keys;
        const code = { card: 0, id_holder: 1, merchant: 2 } as const;
        const r = await sql<{ w: number; n: string | null; a: string | null }>`SELECT w, n::text, a::text FROM risk_payment_usage_needed(${keys.card_id}, ${keys.id_fingerprint}, ${keys.merchant_id},
          ${arrayLiteral(ws.map((w) => code[w.scope as "card"]))}::int2[], ${arrayLiteral(ws.map((w) => w.since))}::int8[],
          ${arrayLiteral(ws.map((w) => w.count_room))}::int8[], ${arrayLiteral(ws.map((w) => w.amount_room))}::int8[]) ORDER BY w`.execute(app.ctx.db);
        expect(r.rows.map((x) => x.w)).toEqual(ws.map((_, i) => i));
        for (const [i, w] of ws.entries()) {
          const want = await directCount(w.scope, keys, new Date(w.since));
          const row = r.rows[i]!;
          if (row.n === null) {
            // Left out: no rule of the window could have fired in it.
            left_out++;
            expect(row.a).toBeNull();
            expect(w.count_room === null || want.count <= w.count_room).toBe(true);
            expect(w.amount_room === null || want.amount <= w.amount_room).toBe(true);
          } else {
            counted++;
            expect({ count: BigInt(row.n), amount: BigInt(row.a!) }).toEqual(want);
          }
        }
      }),
      { numRuns: 80, ...(process.env.PAYCORE_RISK_SEED ? { seed: Number(process.env.PAYCORE_RISK_SEED) } : {}) },
    );
    // Both happened: the property did not pass by counting everything or nothing.
    expect(left_out).toBeGreaterThan(0);
    expect(counted).toBeGreaterThan(0);
  });

  it("judge in the statement as the client judges on every window's count, windows left out or not", async () => {
    // Rules with limits around what the history holds (so some windows are left out and some
    // rules fire), every kind, scope, action and mode; the attempt at any instant of the history.
    const rule = fc.record({
      kind: fc.constantFrom<"velocity" | "amount" | "first_payment">("velocity", "amount", "first_payment"),
      scope: fc.constantFrom<"card" | "id_holder" | "merchant">("card", "id_holder", "merchant"),
      limit: fc.integer({ min: 1, max: 30 }),
      amount_limit: fc.integer({ min: 50, max: 6_000 }),
      window_seconds: fc.constantFrom(1, 30, 60, 61, 3_599, 3_600, 86_400, 2 * 86_400, 31 * 86_400),
      action: fc.constantFrom<"reject" | "review">("reject", "review"),
      mode: fc.constantFrom<"enforce" | "shadow">("enforce", "shadow"),
    });
    const last = instants[instants.length - 1]!;
    const attempt = fc.record({
      payer: fc.constantFrom(0, 1),
      now: fc.oneof(fc.constantFrom(...instants), fc.integer({ min: instants[0]!, max: last + HOUR })),
      card_age_s: fc.integer({ min: 0, max: 3 * 86_400 }),
      amount: fc.integer({ min: 1, max: 3_000 }).map(BigInt),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(rule, { minLength: 1, maxLength: 12 }), fc.array(attempt, { minLength: 1, maxLength: 3 }), async (shapes, attempts) => {
        // Frozen like the configuration cache's, so that the shapes kept per rule set are used from the second attempt on.
        const rules = Object.freeze(
          shapes.map((r, i) =>
            Object.freeze({
              rule_id: `rsk_test${i}`, name: `rule ${i}`, applies_to: "payment" as const, kind: r.kind, scope: r.kind === "first_payment" ? ("card" as const) : r.scope,
              max_count: r.kind === "velocity" ? r.limit : null, max_amount: r.kind === "velocity" ? null : BigInt(r.amount_limit), window_seconds: r.window_seconds,
              action: r.action, mode: r.mode, merchant_id: null, enabled: true, created_at: new Date(0), updated_at: new Date(0),
            }),
          ),
        );
        for (const at of attempts) {
          const payer = payers[at.payer]!;
          const a: Attempt = { subject: "payment", keys: payer.keys, amount: at.amount, now: new Date(at.now), card_since: new Date(at.now - at.card_age_s * 1000) };
          const want = judgeRules(rules, a, await countWindows(app.ctx.db, rules, a, []));
          const got = await app.ctx.db.transaction().execute(async (trx) => {
            const r = await sql<{ ok: boolean; d: string | null }>`SELECT ${judgeInStatement(rules, a, lockKeys(rules, a.keys, "payment"), "pay_judged")} AS ok, current_setting('paycore.risk_decision', true) AS d`.execute(trx);
            return r.rows[0]!;
          });
          if (outcomeOf(want) === "reject") {
            expect(got.ok).toBe(false);
            continue;
          }
          expect(got.ok).toBe(true);
          const decision = JSON.parse(got.d!) as { payment_id: string; outcome: string; fired: unknown[] };
          expect(decision.payment_id).toBe("pay_judged");
          expect(decision.outcome).toBe(outcomeOf(want));
          expect(decision.fired).toEqual(JSON.parse(JSON.stringify(want)));
        }
      }),
      { numRuns: 60, ...(process.env.PAYCORE_RISK_SEED ? { seed: Number(process.env.PAYCORE_RISK_SEED) } : {}) },
    );
  });

  /** Every payment of the scope since the instant, counted from the payments themselves. */
  async function directCount(scope: RuleScope, keys: ScopeKeys, since: Date): Promise<{ count: bigint; amount: bigint }> {
    const where =
      scope === "card"
        ? sql`card_id = ${keys.card_id}`
        : scope === "merchant"
          ? sql`merchant_id = ${keys.merchant_id}`
          : sql`card_id IN (SELECT card_id FROM cards WHERE id_fingerprint = ${keys.id_fingerprint})`;
    const r = await sql<{ n: string; a: string }>`SELECT count(*)::int8 AS n, coalesce(sum(amount) FILTER (WHERE status <> 'failed'), 0)::int8 AS a FROM payments WHERE ${where} AND created_at >= ${since}`.execute(app.ctx.db);
    return { count: BigInt(r.rows[0]!.n), amount: BigInt(r.rows[0]!.a) };
  }
});

function paymentRow(payer: { card: CardRow; keys: ScopeKeys; agreement_id: string }, amount: bigint, at: Date): PaymentRow {
  return {
    payment_id: newId("pay", at.getTime()), merchant_id: payer.keys.merchant_id, sub_merchant_id: null, out_trade_no: newId("req", at.getTime()), request_hash: "windows", agreement_id: payer.agreement_id, card_id: payer.card.card_id,
    channel_id: "netsunion", card_agreement_id: null, route_reason: "test", txn_id: newId("ntx", at.getTime()), network_txn_id: null, amount, currency: "CNY",
    fee: null, network_cost: null, status: "processing", network_state: "final", failure_code: null, failure_message: null, description: "windows", metadata: null, notify_url: null,
    refunded_amount: 0n, query_attempts: 0, next_query_at: at, alert: false, created_at: at, updated_at: at, succeeded_at: null, failed_at: null,
  };
}
