import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.ts";
import { TEST_ACCOUNT, createTestMerchant, startTestApp, testUscc, type TestApp } from "../support/app.ts";

describe("admin API: entities, merchant IDs, sub-merchants, keys, audit", () => {
  const clock = new ManualClock("2026-11-26T08:00:00Z");
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ label: "adm", clock });
  });
  afterAll(async () => app.close());

  const merchantBody = (entity_id: string, extra: Record<string, unknown> = {}) => ({
    entity_id,
    name: "Shop",
    business_category: "retail",
    risk_level: "low",
    products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }],
    settlement: { mode: "own", account: TEST_ACCOUNT },
    ...extra,
  });

  it("creates an entity with a generated payment account, and a repeat finds it (200)", async () => {
    const uscc = testUscc();
    const first = await app.admin("POST", "/admin/v1/entities", { legal_name: "Acme Group", uscc });
    expect(first.status).toBe(201);
    expect(first.body.entity_id).toMatch(/^ent_/);
    expect(first.body.payment_account_no).toMatch(/^8801\d{12}$/);
    const again = await app.admin("POST", "/admin/v1/entities", { legal_name: "Acme Group", uscc });
    expect(again.status).toBe(200);
    expect(again.body.entity_id).toBe(first.body.entity_id);
    const other = await app.admin("POST", "/admin/v1/entities", { legal_name: "Other", uscc: testUscc() });
    expect(other.body.payment_account_no).not.toBe(first.body.payment_account_no);
  });

  it("rejects a USCC with a wrong check character, naming the field", async () => {
    const uscc = testUscc();
    const last = uscc.at(-1) === "0" ? "1" : "0";
    const res = await app.admin("POST", "/admin/v1/entities", { legal_name: "Bad", uscc: uscc.slice(0, 17) + last });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.field).toBe("uscc");
    expect(res.body.error.message).toContain("uscc");
  });

  it("rejects unknown fields, bad CNAPS codes, bad account numbers and missing fields", async () => {
    const { entity_id } = await createTestMerchant(app);
    const cases: [Record<string, unknown>, string][] = [
      [{ ...merchantBody(entity_id), colour: "red" }, "colour"],
      [merchantBody(entity_id, { settlement: { mode: "own", account: { ...TEST_ACCOUNT, bank_code: "10229000001" } } }), "settlement.account.bank_code"],
      [merchantBody(entity_id, { settlement: { mode: "own", account: { ...TEST_ACCOUNT, bank_code: "10229000001X" } } }), "settlement.account.bank_code"],
      // ICBC's prefix, but no branch in the CNAPS bank directory
      [merchantBody(entity_id, { settlement: { mode: "own", account: { ...TEST_ACCOUNT, bank_code: "102290009999" } } }), "settlement.account.bank_code"],
      [merchantBody(entity_id, { settlement: { mode: "own", account: { ...TEST_ACCOUNT, account_number: "12ab" } } }), "settlement.account.account_number"],
      [merchantBody(entity_id, { settlement: { mode: "own" } }), "settlement.account"],
      [merchantBody(entity_id, { products: [{ product: "agreement_pay", fee_rate_bps: 60.5 }] }), "products.0.fee_rate_bps"],
      [merchantBody(entity_id, { risk_level: undefined }), "risk_level"],
      [merchantBody("ent_nope"), "entity_id"],
    ];
    for (const [body, field] of cases) {
      const res = await app.admin("POST", "/admin/v1/merchants", body);
      expect(res.status, field).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
      expect(res.body.error.field, JSON.stringify(res.body)).toBe(field);
    }
  });

  it("sub-merchants: same entity, one level, parent settlement only for sub-merchants", async () => {
    const group = await createTestMerchant(app);
    const store = await app.admin("POST", "/admin/v1/merchants", merchantBody(group.entity_id, { parent_merchant_id: group.creds.mch_id, settlement: { mode: "parent" } }));
    expect(store.status).toBe(201);
    expect(store.body.parent_merchant_id).toBe(group.creds.mch_id);
    expect(store.body.settlement).toEqual({ mode: "parent", cycle_days: 1, account: null });

    const subOfSub = await app.admin("POST", "/admin/v1/merchants", merchantBody(group.entity_id, { parent_merchant_id: store.body.merchant_id, settlement: { mode: "parent" } }));
    expect(subOfSub.status).toBe(400);
    expect(subOfSub.body.error.field).toBe("parent_merchant_id");

    const stranger = await createTestMerchant(app);
    const crossEntity = await app.admin("POST", "/admin/v1/merchants", merchantBody(stranger.entity_id, { parent_merchant_id: group.creds.mch_id }));
    expect(crossEntity.status).toBe(400);
    expect(crossEntity.body.error.field).toBe("parent_merchant_id");

    const parentModeTop = await app.admin("POST", "/admin/v1/merchants", merchantBody(group.entity_id, { settlement: { mode: "parent" } }));
    expect(parentModeTop.status).toBe(400);
    expect(parentModeTop.body.error.field).toBe("settlement.mode");
  });

  it("high risk merchants require their own confirmation by default; the account number never comes back", async () => {
    const { entity_id } = await createTestMerchant(app);
    const high = await app.admin("POST", "/admin/v1/merchants", merchantBody(entity_id, { risk_level: "high" }));
    expect(high.body.require_own_confirmation).toBe(true);
    expect(high.body.settlement.account).toEqual({ account_name: TEST_ACCOUNT.account_name, account_number_last4: "3445", bank_code: TEST_ACCOUNT.bank_code });
    expect(JSON.stringify(high.body)).not.toContain(TEST_ACCOUNT.account_number);
    const low = await app.admin("POST", "/admin/v1/merchants", merchantBody(entity_id));
    expect(low.body.require_own_confirmation).toBe(false);
    const raised = await app.admin("PATCH", `/admin/v1/merchants/${low.body.merchant_id}`, { risk_level: "high" });
    expect(raised.body.require_own_confirmation).toBe(true);
    const limits = await app.admin("PATCH", `/admin/v1/merchants/${low.body.merchant_id}`, { limits: { card_daily_amount: 500000, card_daily_count: 5 } });
    expect(limits.body.limits).toEqual({ card_daily_amount: 500000, card_daily_count: 5, merchant_daily_amount: null });
  });

  it("rotates keys with a grace period (injected clock) and revokes at once", async () => {
    const m = await createTestMerchant(app);
    const oldClient = app.merchantClient(m.creds);
    const rotated = await app.admin("POST", `/admin/v1/merchants/${m.creds.mch_id}/keys`, {});
    expect(rotated.status).toBe(201);
    expect(rotated.body.secret).toMatch(/^sk_/);
    const newClient = app.merchantClient({ mch_id: m.creds.mch_id, key_id: rotated.body.key_id, secret: rotated.body.secret });
    expect((await oldClient.get("/v1/balance")).status).toBe(200);
    expect((await newClient.get("/v1/balance")).status).toBe(200);
    clock.advance(23 * 3600 * 1000);
    expect((await oldClient.get("/v1/balance")).status).toBe(200);
    clock.advance(3600 * 1000 + 1000);
    expect((await oldClient.get("/v1/balance")).status).toBe(401);
    expect((await newClient.get("/v1/balance")).status).toBe(200);

    const keys = await app.admin("GET", `/admin/v1/merchants/${m.creds.mch_id}/keys`);
    expect(keys.body.data.map((k: { status: string }) => k.status).sort()).toEqual(["active", "expired"]);
    expect(JSON.stringify(keys.body)).not.toMatch(/"sk_/);

    const revoked = await app.admin("POST", `/admin/v1/merchants/${m.creds.mch_id}/keys/${rotated.body.key_id}/revoke`);
    expect(revoked.body.status).toBe("revoked");
    expect((await newClient.get("/v1/balance")).status).toBe(401);
  });

  it("stores API key secrets sealed, never in clear", async () => {
    const m = await createTestMerchant(app);
    const row = await app.ctx.db.selectFrom("api_keys").selectAll().where("key_id", "=", m.creds.key_id).executeTakeFirstOrThrow();
    expect(row.secret_enc).not.toContain(m.creds.secret);
    expect(row.secret_enc.startsWith("v1.")).toBe(true);
    const acct = await app.ctx.db.selectFrom("merchants").select("settlement_account_number_enc").where("merchant_id", "=", m.creds.mch_id).executeTakeFirstOrThrow();
    expect(acct.settlement_account_number_enc).not.toContain(TEST_ACCOUNT.account_number);
  });

  it("writes an audit record for every admin mutation, with before/after and request id", async () => {
    const m = await createTestMerchant(app);
    await app.admin("PATCH", `/admin/v1/merchants/${m.creds.mch_id}`, { status: "suspended" });
    await app.admin("POST", `/admin/v1/merchants/${m.creds.mch_id}/keys`, {});
    const log = await app.admin("GET", `/admin/v1/audit-log?target_id=${m.creds.mch_id}`);
    expect(log.status).toBe(200);
    const actions = log.body.data.map((r: { action: string }) => r.action);
    expect(actions).toEqual(["api_key.rotate", "merchant.suspend", "merchant.create"]);
    const suspend = log.body.data[1];
    expect(suspend.before.status).toBe("active");
    expect(suspend.after.status).toBe("suspended");
    expect(suspend.request_id).toMatch(/^req_/);
    expect(suspend.operator_id).toMatch(/^op_/);
    expect(JSON.stringify(log.body)).not.toContain(m.creds.secret);
    expect(JSON.stringify(log.body)).not.toMatch(/"sk_/);
  });

  it("shows a settlement hold on the merchant ID and lists the held ones", async () => {
    const m = await createTestMerchant(app);
    const id = m.merchant.merchant_id as string;
    expect((await app.admin("GET", `/admin/v1/merchants/${id}`)).body.settlement_hold).toBeNull();
    expect((await app.admin("PUT", `/admin/v1/merchants/${id}/settlement-hold`, { reason: "gambling patterns" })).status).toBe(200);
    const held = (await app.admin("GET", `/admin/v1/merchants/${id}`)).body.settlement_hold;
    expect(held).toEqual({ reason: "gambling patterns", since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    const ids = async (q: string) => ((await app.admin("GET", `/admin/v1/merchants?limit=100&${q}`)).body.data as { merchant_id: string }[]).map((x) => x.merchant_id);
    expect(await ids("held=true")).toContain(id);
    expect(await ids("held=false")).not.toContain(id);
    expect((await app.admin("GET", "/admin/v1/merchants?held=maybe")).status).toBe(400);
  });

  it("enforces roles: an auditor reads but cannot change, an unknown token is refused", async () => {
    const created = await app.admin("POST", "/admin/v1/operators", { name: "Ada", role: "auditor" });
    expect(created.status).toBe(201);
    const auditor = created.body.token as string;
    const m = await createTestMerchant(app);
    expect((await app.admin("GET", `/admin/v1/merchants/${m.creds.mch_id}`, undefined, auditor)).status).toBe(200);
    const denied = await app.admin("PATCH", `/admin/v1/merchants/${m.creds.mch_id}`, { status: "suspended" }, auditor);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("forbidden");
    expect((await app.admin("GET", "/admin/v1/merchants", undefined, "pco_not_a_real_token_at_all")).status).toBe(401);
    const stored = await app.ctx.db.selectFrom("operators").select("token_hash").where("name", "=", "Ada").executeTakeFirstOrThrow();
    expect(stored.token_hash).not.toContain(auditor);
  });

  it("lists merchants with cursor paging", async () => {
    const { entity_id } = await createTestMerchant(app);
    for (let i = 0; i < 4; i++) await app.admin("POST", "/admin/v1/merchants", merchantBody(entity_id));
    const page1 = await app.admin("GET", `/admin/v1/merchants?entity_id=${entity_id}&limit=3`);
    expect(page1.body.data).toHaveLength(3);
    const page2 = await app.admin("GET", `/admin/v1/merchants?entity_id=${entity_id}&limit=3&cursor=${page1.body.next_cursor}`);
    expect(page2.body.data).toHaveLength(2);
    expect(page2.body.next_cursor).toBeNull();
    const bad = await app.admin("GET", "/admin/v1/merchants?limit=1000");
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("query.limit");
  });
});
