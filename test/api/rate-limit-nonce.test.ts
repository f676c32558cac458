import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepExpired } from "../../src/api/sweeper.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";

/**
 * Issue 8.5: the rate limit is checked before the nonce is stored, so a client above its limit does
 * not grow the nonce table; a 429 says when to come back (Retry-After); the sweep deletes expired
 * nonces in bounded batches until none are left (up to a bound per run), keeping up with the rate.
 */
describe("rate limit before the nonce, and the nonce sweep", () => {
  const clock = new ManualClock("2026-11-30T08:00:00Z");
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ label: "ratenonce", clock, settings: { rate_limit_per_minute: 5 } });
  });
  afterAll(async () => app.close());

  const noncesOf = async (merchant_id: string) =>
    Number((await app.ctx.db.selectFrom("api_nonces").select((e) => e.fn.countAll<string>().as("n")).where("merchant_id", "=", merchant_id).executeTakeFirstOrThrow()).n);

  it("requests above the limit store no nonce and answer 429 with Retry-After", async () => {
    const m = await createTestMerchant(app);
    const client = app.merchantClient(m.creds);
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await client.get<{ error?: { code: string } }>("/v1/balance"));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(5);
    const limited = answers.filter((a) => a.status === 429);
    expect(limited).toHaveLength(15);
    expect(limited[0]!.body.error?.code).toBe("rate_limited");
    const retry_after = Number(limited[0]!.headers.get("retry-after"));
    expect(Number.isInteger(retry_after)).toBe(true);
    expect(retry_after).toBeGreaterThanOrEqual(1);
    expect(retry_after).toBeLessThanOrEqual(60);
    expect(await noncesOf(m.creds.mch_id)).toBe(5);
  });

  it("a bad signature does not spend the merchant's rate budget", async () => {
    const m = await createTestMerchant(app);
    for (let i = 0; i < 10; i++) expect((await app.merchantClient({ ...m.creds, secret: "sk_wrong" }).get("/v1/balance")).status).toBe(401);
    expect((await app.merchantClient(m.creds).get("/v1/balance")).status).toBe(200);
  });

  it("one sweep run deletes every expired nonce in bounded batches, more than one batch's worth", async () => {
    const m = await createTestMerchant(app);
    const past = new Date(clock.now().getTime() - 60_000);
    await sql`INSERT INTO api_nonces (merchant_id, nonce, expires_at) SELECT ${m.creds.mch_id}, 'n-' || g, ${past} FROM generate_series(1, 12000) AS g`.execute(app.ctx.db);
    expect(await noncesOf(m.creds.mch_id)).toBe(12_000);
    const swept = await sweepExpired(app.ctx);
    expect(swept.nonces).toBeGreaterThanOrEqual(12_000);
    expect(await noncesOf(m.creds.mch_id)).toBe(0);
  });
});
