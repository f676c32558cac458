import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createOperator } from "../../src/operators/index.ts";
import { TEST_ACCOUNT, createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";

/**
 * Four eyes (issue 8.4, docs/security.md): a change that moves money's destination or releases
 * money answers 202 with a proposal and takes effect only when another operator approves it.
 */
describe("four eyes: settlement accounts, holds, channel costs and payout overrides need a second operator", () => {
  const clock = new ManualClock("2026-11-26T08:00:00Z");
  let app: TestApp;
  let maker = "", checker = "", second_admin = "", auditor = "";
  const NEW_ACCOUNT = { account_name: "Attacker Co., Ltd.", account_number: "6222020200119998887", bank_code: "102290000012" };

  beforeAll(async () => {
    app = await startTestApp({ label: "foureyes", clock });
    maker = (await createOperator(app.ctx, { name: "maker", role: "operator" })).token;
    checker = (await createOperator(app.ctx, { name: "checker", role: "operator" })).token;
    second_admin = (await createOperator(app.ctx, { name: "admin-2", role: "admin" })).token;
    auditor = (await createOperator(app.ctx, { name: "auditor", role: "auditor" })).token;
  });
  afterAll(async () => app.close());

  it("a settlement account change is a proposal until another operator approves it", async () => {
    const { creds } = await createTestMerchant(app);
    const path = `/admin/v1/merchants/${creds.mch_id}`;
    const proposed = await app.admin("PATCH", path, { settlement: { mode: "own", cycle_days: 1, account: NEW_ACCOUNT } }, maker);
    expect(proposed.status).toBe(202);
    expect(proposed.body).toMatchObject({ status: "pending", kind: "merchant.settlement_change", target_type: "merchant", target_id: creds.mch_id });
    expect(proposed.body.proposal_id).toMatch(/^prp_/);
    // Nothing changed yet; the full account number is nowhere in the answer, the list or the row.
    expect((await app.admin("GET", path)).body.settlement.account.account_number_last4).toBe(TEST_ACCOUNT.account_number.slice(-4));
    expect(JSON.stringify(proposed.body)).not.toContain(NEW_ACCOUNT.account_number);
    const pending = await app.admin("GET", "/admin/v1/proposals?status=pending", undefined, auditor);
    expect(pending.status).toBe(200);
    expect(pending.body.data.map((p: { proposal_id: string }) => p.proposal_id)).toContain(proposed.body.proposal_id);
    const row = await app.ctx.db.selectFrom("proposals").selectAll().where("proposal_id", "=", proposed.body.proposal_id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(NEW_ACCOUNT.account_number);

    const approve = `/admin/v1/proposals/${proposed.body.proposal_id}/approve`;
    const self = await app.admin("POST", approve, {}, maker);
    expect(self.status).toBe(403);
    expect(self.body.error.code).toBe("forbidden");
    expect((await app.admin("POST", approve, {}, auditor)).status).toBe(403);
    expect((await app.admin("GET", path)).body.settlement.account.account_number_last4).toBe(TEST_ACCOUNT.account_number.slice(-4));

    const ok = await app.admin("POST", approve, { note: "called the merchant back on the number we have on file" }, checker);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: "approved", decision_note: "called the merchant back on the number we have on file" });
    expect((await app.admin("GET", path)).body.settlement.account).toEqual({ account_name: NEW_ACCOUNT.account_name, account_number_last4: "8887", bank_code: NEW_ACCOUNT.bank_code });
    const again = await app.admin("POST", approve, {}, second_admin);
    expect(again.status).toBe(400);

    const audit = await app.admin("GET", `/admin/v1/audit-log?target_id=${proposed.body.proposal_id}`);
    expect(audit.body.data.map((a: { action: string }) => a.action).sort()).toEqual(["proposal.approve", "proposal.create"]);
    const update = await app.admin("GET", `/admin/v1/audit-log?target_id=${creds.mch_id}&action=merchant.update`);
    expect(update.body.data).toHaveLength(1);
    expect(update.body.data[0].operator_id).not.toBe(audit.body.data.find((a: { action: string }) => a.action === "proposal.create").operator_id);
  });

  it("a rejected proposal changes nothing; other merchant patches apply at once", async () => {
    const { creds } = await createTestMerchant(app);
    const path = `/admin/v1/merchants/${creds.mch_id}`;
    const proposed = await app.admin("PATCH", path, { name: "Renamed", settlement: { mode: "own", account: NEW_ACCOUNT } }, maker);
    expect(proposed.status).toBe(202);
    const rejected = await app.admin("POST", `/admin/v1/proposals/${proposed.body.proposal_id}/reject`, { note: "not requested by the merchant" }, checker);
    expect(rejected.body.status).toBe("rejected");
    const merchant = (await app.admin("GET", path)).body;
    expect(merchant.name).toBe("Test Merchant");
    expect(merchant.settlement.account.account_number_last4).toBe(TEST_ACCOUNT.account_number.slice(-4));
    expect((await app.admin("POST", `/admin/v1/proposals/${proposed.body.proposal_id}/approve`, {}, checker)).status).toBe(400);
    expect((await app.admin("GET", "/admin/v1/proposals?status=rejected")).body.data[0].proposal_id).toBe(proposed.body.proposal_id);
    const direct = await app.admin("PATCH", path, { name: "Renamed" }, maker);
    expect(direct.status).toBe(200);
    expect(direct.body.name).toBe("Renamed");
    // A proposal that could never apply is refused at once, and nothing is stored.
    const bad = await app.admin("PATCH", path, { settlement: { mode: "parent" } }, maker);
    expect(bad.status).toBe(400);
    expect((await app.admin("PATCH", "/admin/v1/merchants/mch_NOPE", { settlement: { mode: "own", account: NEW_ACCOUNT } })).status).toBe(404);
  });

  it("releasing a settlement hold needs a second operator", async () => {
    const { creds } = await createTestMerchant(app);
    const hold = `/admin/v1/merchants/${creds.mch_id}/settlement-hold`;
    expect((await app.admin("PUT", hold, { reason: "risk review" }, maker)).status).toBe(200);
    const release = await app.admin("DELETE", hold, undefined, maker);
    expect(release.status).toBe(202);
    expect(release.body.kind).toBe("settlement.hold_release");
    expect(await app.ctx.db.selectFrom("settlement_holds").select("merchant_id").where("merchant_id", "=", creds.mch_id).executeTakeFirst()).toBeDefined();
    expect((await app.admin("POST", `/admin/v1/proposals/${release.body.proposal_id}/approve`, {}, maker)).status).toBe(403);
    const ok = await app.admin("POST", `/admin/v1/proposals/${release.body.proposal_id}/approve`, {}, checker);
    expect(ok.body).toMatchObject({ status: "approved", result: { merchant_id: creds.mch_id, held: false } });
    expect(await app.ctx.db.selectFrom("settlement_holds").select("merchant_id").where("merchant_id", "=", creds.mch_id).executeTakeFirst()).toBeUndefined();
    expect((await app.admin("DELETE", hold, undefined, maker)).status).toBe(404);
  });

  it("channel cost and endpoint changes need a second admin; enabling applies at once", async () => {
    const before = (await app.admin("GET", "/admin/v1/channels")).body.data.find((c: { channel_id: string }) => c.channel_id === "netsunion");
    const proposed = await app.admin("PATCH", "/admin/v1/channels/netsunion", { cost_bps: before.cost_bps + 3 });
    expect(proposed.status).toBe(202);
    const current = () => app.admin("GET", "/admin/v1/channels").then((r) => r.body.data.find((c: { channel_id: string }) => c.channel_id === "netsunion"));
    expect((await current()).cost_bps).toBe(before.cost_bps);
    const approve = `/admin/v1/proposals/${proposed.body.proposal_id}/approve`;
    expect((await app.admin("POST", approve, {})).status).toBe(403); // the proposer
    expect((await app.admin("POST", approve, {}, checker)).status).toBe(403); // not an admin
    expect((await app.admin("POST", approve, {}, second_admin)).status).toBe(200);
    expect((await current()).cost_bps).toBe(before.cost_bps + 3);
    expect((await app.admin("PATCH", "/admin/v1/channels/netsunion", { endpoint_url: "http://169.254.169.254/" })).status).toBe(202);
    const priority = await app.admin("PATCH", "/admin/v1/channels/netsunion", { priority: before.priority });
    expect(priority.status).toBe(200);
  });

  it("a payout instruction past its attempt limit runs again only with a second operator", async () => {
    const { creds } = await createTestMerchant(app);
    const now = app.ctx.clock.now();
    const instruction_id = "spo_TEST_STUCK_1";
    await app.ctx.db
      .insertInto("settlement_payouts")
      .values({
        instruction_id, payee_merchant_id: creds.mch_id, settlement_date: "2026-11-25", batch_no: 1, amount: 1_000n, account_name: "Test Co., Ltd.",
        account_number_enc: app.ctx.box.seal(TEST_ACCOUNT.account_number, `settlement_account:${creds.mch_id}`), account_last4: "3445",
        bank_code: TEST_ACCOUNT.bank_code, status: "pending", failure_reason: "bank timeout", attempt_count: 50, created_at: now, updated_at: now, finished_at: null,
      })
      .execute();
    const proposed = await app.admin("POST", `/admin/v1/settlement-payouts/${instruction_id}/override`, undefined, maker);
    expect(proposed.status).toBe(202);
    expect((await app.admin("POST", `/admin/v1/proposals/${proposed.body.proposal_id}/approve`, {}, maker)).status).toBe(403);
    expect((await app.admin("POST", `/admin/v1/proposals/${proposed.body.proposal_id}/approve`, {}, checker)).status).toBe(200);
    const row = await app.ctx.db.selectFrom("settlement_payouts").select("attempt_count").where("instruction_id", "=", instruction_id).executeTakeFirstOrThrow();
    expect(row.attempt_count).toBe(0);
    // An instruction that still has attempts left needs no override.
    expect((await app.admin("POST", `/admin/v1/settlement-payouts/${instruction_id}/override`, undefined, maker)).status).toBe(400);
    expect((await app.admin("POST", "/admin/v1/settlement-payouts/spo_NOPE/override", undefined, maker)).status).toBe(404);
  });
});
