import { sql, type Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { rebuildCounters, windowUsage, type ScopeKeys } from "../../src/risk/counters.ts";
import { overviewStats } from "../../src/stats/overview.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { freshAgreement } from "./helpers.ts";

const NOW = Date.parse("2026-05-05T08:00:00.000Z");
const HISTORY = 4_000;

/**
 * A risk window's raw edge (a card's, an ID holder's or a merchant ID's payments in under a minute)
 * is read on a generic plan made from whatever statistics payments has. With one merchant ID and one
 * card owning the whole table (the payments bench's shape, more so), a plain index on created_at was
 * the cheaper estimate for every edge, and the plan read every payment of the edge's minute, filtered
 * (docs/risk.md, migration 2250). Since migration 2250 the only index on time alone is on an
 * expression the edges do not say: after ANALYZE on such a table, the count reads payments through
 * the card's and the merchant ID's own indexes and nothing else (pg_stat_user_indexes on the suite's
 * schema, both engines).
 */
describe("risk windows' raw edges and payments' indexes", () => {
  const clock = new ManualClock(new Date(NOW));
  let app: TestApp;
  let keys: ScopeKeys;

  beforeAll(async () => {
    app = await startTestApp({ label: "risk_edge_indexes", clock, sandbox: true });
    const m = await createTestMerchant(app, { name: "Edge M" });
    const M = app.merchantClient(m.creds);
    const { agreement_id } = await freshAgreement(app, M);
    const a = await app.ctx.db.selectFrom("agreements").innerJoin("cards", "cards.card_id", "agreements.card_id").select(["cards.card_id", "cards.id_fingerprint", "agreements.merchant_id"]).where("agreements.agreement_id", "=", agreement_id).executeTakeFirstOrThrow();
    keys = { card_id: a.card_id, id_fingerprint: a.id_fingerprint, merchant_id: a.merchant_id };
    // An hour of one card's payments at one merchant ID, one every 0.9 s, the last a second ago.
    await sql`INSERT INTO payments (payment_id, merchant_id, out_trade_no, request_hash, agreement_id, card_id, channel_id, route_reason, txn_id, amount, currency,
        status, network_state, description, refunded_amount, query_attempts, next_query_at, alert, created_at, updated_at, succeeded_at)
      SELECT 'pay_edge_' || g, ${keys.merchant_id}, 'edge-' || g, 'edge', ${agreement_id}, ${keys.card_id}, 'netsunion', 'test', 'ntx_edge_' || g, 100 + g, 'CNY',
        'succeeded', 'final', 'edge', 0, 0, t, false, t, t, t
      FROM generate_series(1, ${HISTORY}::int) AS g CROSS JOIN LATERAL (SELECT ${new Date(NOW - 1_000)}::timestamptz - (${HISTORY}::int - g) * interval '900 milliseconds' AS t) AS x`.execute(app.ctx.db);
    // Their buckets, as for the bench's history (written straight into the table).
    await rebuildCounters(app.ctx.db, new Date(NOW - 86_400_000));
    await sql`ANALYZE payments`.execute(app.ctx.db);
    await sql`ANALYZE cards`.execute(app.ctx.db);
  });
  afterAll(async () => app.close());

  it("read only the card's and the merchant ID's indexes of payments, and count the edges right", async () => {
    await app.ctx.db.connection().execute(async (conn) => {
      const before = await indexScans(conn);
      // Windows whose edges lie in the last hour: a card's, an ID holder's and a merchant ID's,
      // at second and minute boundaries and between them.
      const starts = [NOW - 59_500, NOW - 60_000, NOW - 600_250, NOW - 1_800_000 - 1];
      const windows = (["card", "id_holder", "merchant"] as const).flatMap((scope) => starts.map((t) => ({ scope, since: new Date(t) })));
      const got = await windowUsage(conn, "payment", keys, windows);
      const after = await indexScans(conn);
      const read = [...after].filter(([name, n]) => n > (before.get(name) ?? 0)).map(([name]) => name).sort();
      expect(read).toEqual(["payments_card_day_idx", "payments_merchant_created_idx"]);
      // And what they count is what the payments say (one card at one merchant ID: the three scopes agree).
      for (const [i, w] of windows.entries()) {
        const r = await sql<{ n: string; a: string }>`SELECT count(*)::int8 AS n, coalesce(sum(amount), 0)::int8 AS a FROM payments WHERE card_id = ${keys.card_id} AND created_at >= ${w.since}`.execute(conn);
        expect(got[i]).toEqual({ count: BigInt(r.rows[0]!.n), amount: BigInt(r.rows[0]!.a) });
      }
    });
  });

  it("still find payments by time alone for the console's overview", async () => {
    const from = new Date(NOW - 3_600_000);
    const o = await overviewStats(app.ctx.db, { from, to: new Date(NOW), bucket: "hour" });
    const want = await sql<{ n: string }>`SELECT count(*)::int8 AS n FROM payments WHERE created_at >= ${from} AND created_at < ${new Date(NOW)}`.execute(app.ctx.db);
    expect(o.payments.reduce((n, c) => n + c.count, 0)).toBe(Number(want.rows[0]!.n));
    expect(Number(want.rows[0]!.n)).toBeGreaterThan(HISTORY - 10);
    // A short period of a long history is read through the expression's index.
    await app.ctx.db.connection().execute(async (conn) => {
      const before = await indexScans(conn);
      const minute = await overviewStats(conn, { from: new Date(NOW - 120_000), to: new Date(NOW - 60_000), bucket: "hour" });
      const after = await indexScans(conn);
      expect(minute.payments.reduce((n, c) => n + c.count, 0)).toBe(67);
      expect((after.get("payments_created_utc_idx") ?? 0) - (before.get("payments_created_utc_idx") ?? 0)).toBeGreaterThan(0);
    });
  });
});

/** idx_scan of each index of payments in this connection's schema, after flushing this backend's counts. */
async function indexScans(conn: Kysely<Database>): Promise<Map<string, number>> {
  await sql`SELECT pg_stat_force_next_flush()`.execute(conn);
  await sql`SELECT 1`.execute(conn);
  await sql`SELECT pg_stat_clear_snapshot()`.execute(conn);
  const r = await sql<{ name: string; n: string }>`SELECT indexrelname AS name, idx_scan::text AS n FROM pg_stat_user_indexes WHERE relname = 'payments' AND schemaname = current_schema()`.execute(conn);
  expect(r.rows.length).toBeGreaterThan(0);
  return new Map(r.rows.map((x) => [x.name, Number(x.n)]));
}
