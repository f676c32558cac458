import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepExpired } from "../../src/api/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { RISK_LIMITS } from "../../src/risk/index.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { freshAgreement, pay } from "./helpers.ts";

const DAY_MS = 86_400_000;
/** More than two sweep batches' worth of old buckets. */
const OLD_BUCKETS = 12_001;

/**
 * Counter buckets older than RISK_LIMITS.counter_keep_seconds (33 days: past the longest window a
 * rule may count) are deleted by the expiry sweep in bounded batches, with two sweeps running at
 * once (as two paycore processes would); a payment's own buckets stay until they are that old.
 */
describe("risk counter buckets are swept after 33 days", () => {
  const clock = new ManualClock("2026-03-02T10:15:30Z");
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ label: "risk_sweep", clock, sandbox: true });
  });
  afterAll(async () => app.close());

  const bucketsOf = async (like: string) =>
    Number((await sql<{ n: string }>`SELECT count(*)::int8 AS n FROM risk_counters WHERE scope_key LIKE ${like}`.execute(app.ctx.db)).rows[0]!.n);

  it("old buckets go, in batches, with two sweeps at once; recent ones stay", async () => {
    expect(RISK_LIMITS.counter_keep_seconds).toBe(33 * 86_400);
    const m = await createTestMerchant(app, { name: "Sweep M" });
    const client = app.merchantClient(m.creds);
    const { agreement_id } = await freshAgreement(app, client);
    const paid = await pay(client, agreement_id, 1_000);
    expect(paid.body.status).toBe("succeeded");
    // The payment's ten buckets (card, ID holder and merchant ID × minute, hour, day; the merchant
    // ID's second, migration 2190) and the signing's twelve (phone too).
    expect(await bucketsOf("payment:%")).toBe(10);
    expect(await bucketsOf("signing:%")).toBe(12);
    const own = await bucketsOf("%");

    // 32 days on, the payment's buckets are still inside the kept span; old ones are planted.
    clock.advance(32 * DAY_MS);
    const now = clock.now();
    const cutoff = new Date(now.getTime() - RISK_LIMITS.counter_keep_seconds * 1000);
    await sql`INSERT INTO risk_counters (scope_key, width_s, bucket_start, stripe, count, amount)
      SELECT 'old:' || g, (ARRAY[60, 3600, 86400])[1 + g % 3], ${cutoff}::timestamptz - make_interval(mins => g), g % 4, 1, 100
      FROM generate_series(1, ${OLD_BUCKETS - 1}) AS g`.execute(app.ctx.db);
    // Exactly at the cutoff: kept; one minute before it: old.
    await sql`INSERT INTO risk_counters (scope_key, width_s, bucket_start, stripe, count, amount) VALUES
      ('edge:kept', 60, ${cutoff}, 0, 1, 100), ('old:edge', 60, ${new Date(cutoff.getTime() - 60_000)}, 0, 1, 100)`.execute(app.ctx.db);
    expect(await bucketsOf("old:%")).toBe(OLD_BUCKETS);

    const [a, b] = await Promise.all([sweepExpired(app.ctx), sweepExpired(app.ctx)]);
    expect(a.risk_buckets + b.risk_buckets, "each old bucket deleted once").toBe(OLD_BUCKETS);
    expect(await bucketsOf("old:%")).toBe(0);
    expect(await bucketsOf("edge:kept")).toBe(1);
    expect(await bucketsOf("%")).toBe(own + 1);
    expect((await sweepExpired(app.ctx)).risk_buckets, "nothing left to sweep").toBe(0);

    // 34 days after the payment, its buckets are past the kept span and go too.
    clock.advance(2 * DAY_MS);
    expect((await sweepExpired(app.ctx)).risk_buckets).toBe(own + 1);
    expect(await bucketsOf("%")).toBe(0);
  });
});
