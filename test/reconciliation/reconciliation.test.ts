import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createOperator } from "../../src/operators/index.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard } from "../payments/helpers.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * One network day, end to end against the live sandbox: payments and a refund, each mismatch kind
 * injected with statement faults (drop, extra, amount, fee) and a payment fault (unknown outcome,
 * no notification), reconciled over the adapter; the status mismatch resolved by querying the
 * network; the operator's actions; the network's settlement booked; the books then agree with the
 * file to the fen (the channel's receivable is zero) and the trial balance holds.
 */
describe("reconciliation of a network day", () => {
  // 2026-05-02 11:00 Beijing time: the network's day 2026-05-02.
  const clock = new ManualClock("2026-05-02T03:00:00Z");
  const DAY = "2026-05-02";
  let app: TestApp;
  let client: PaycoreClient;
  let agreement_id = "";
  let channel = "";
  let n = 0;
  const payments: Json[] = [];
  let first: Json;

  async function pay(amount: number): Promise<Json> {
    n += 1;
    clock.advance(1_000);
    const res = await client.post<Json>("/v1/payments", { out_trade_no: `r-${n}`, agreement_id, amount, currency: "CNY", description: "recon" });
    expect(res.status, res.text).toBe(201);
    return res.body;
  }

  async function statementFault(kind: string, count = 1, date = DAY) {
    const res = await app.sandbox!.send("POST", "/sandbox/v1/statement-faults", { channel, date, kind, count });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }

  async function exceptions(query = ""): Promise<Json[]> {
    const res = await app.admin("GET", `/admin/v1/reconciliation-exceptions?channel=${channel}&date=${DAY}&limit=100${query}`);
    expect(res.status).toBe(200);
    return res.body.data;
  }

  async function receivable(): Promise<bigint> {
    const row = await app.ctx.db.selectFrom("ledger_balances").select(["debits", "credits"]).where("account_code", "=", `network_receivable:${channel}`).executeTakeFirst();
    return row ? row.debits - row.credits : 0n;
  }

  beforeAll(async () => {
    app = await startTestApp({ label: "recon", clock, sandbox: true, channel_timeout_ms: 2_000 });
    const m = await createTestMerchant(app);
    client = app.merchantClient(m.creds);
    const card = pickCard(await catalogue(app), { unified: true });
    agreement_id = await signCard(app, client, card, "sign-recon");
    first = await pay(1_000);
    channel = first.channel as string;
    payments.push(first);
    // An unknown outcome the network never tells paycore about: processing until someone asks.
    await app.sandbox!.send("PUT", "/sandbox/v1/config", { paycore_callback_url: null });
    await app.sandbox!.send("POST", "/sandbox/v1/faults", { channel, operation: "pay", kind: "unknown", rate: 1, seed: 3 });
    const unknown = await pay(6_000);
    expect(unknown.status).toBe("processing");
    payments.push(unknown);
    await app.sandbox!.send("DELETE", "/sandbox/v1/faults");
    for (const amount of [2_000, 3_000, 4_000, 5_000]) payments.push(await pay(amount));
    const refund = await client.post<Json>(`/v1/payments/${payments[2]!.payment_id}/refunds`, { out_refund_no: "rr-1", amount: 500, reason: "recon" });
    expect(refund.body.status).toBe("succeeded");
  });
  afterAll(async () => app.close());

  it("refuses a file whose signature does not verify, and alerts", async () => {
    clock.advance(20 * 3_600_000); // the next morning: the day is closed, its file is out
    await statementFault("bad_signature");
    const res = await app.admin("POST", "/admin/v1/reconciliations", { channel, date: DAY });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("channel_unavailable");
    expect(res.body.error.message).toMatch(/signature/);
    const alerts = await app.admin("GET", `/admin/v1/reconciliation-alerts?channel=${channel}&date=${DAY}`);
    expect(alerts.body.data.map((a: Json) => a.kind)).toContain("file_refused");
    expect((await app.admin("GET", `/admin/v1/reconciliations?channel=${channel}`)).body.data).toHaveLength(0);
  });

  it("finds every kind of mismatch the faults injected", async () => {
    await statementFault("drop"); // the first payment is missing from the file: 短款
    await statementFault("extra"); // a debit paycore never saw: 长款
    await statementFault("amount"); // the last untouched debit: another amount
    await statementFault("fee"); // the one before: another fee
    const res = await app.admin("POST", "/admin/v1/reconciliations", { channel, date: DAY });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.status).toBe("done");
    expect(res.body.counts).toEqual({ matched: 3, network_only: 1, platform_only: 1, amount_mismatch: 1, status_mismatch: 1, fee_mismatch: 1, buffered: 0 });
    const open = await exceptions();
    expect(open.map((e) => e.kind).sort()).toEqual(["amount_mismatch", "fee_mismatch", "network_only", "platform_only", "status_mismatch"]);
    expect(open.find((e) => e.kind === "amount_mismatch")!.payment_id).toBe(payments[5]!.payment_id);
    expect(open.find((e) => e.kind === "fee_mismatch")!.payment_id).toBe(payments[4]!.payment_id);
    expect(open.find((e) => e.kind === "platform_only")!.payment_id).toBe(first.payment_id);
    // The status mismatch was settled by asking the network: the payment is succeeded now.
    const status = (await exceptions("&kind=status_mismatch&status=resolved")).concat(await exceptions("&kind=status_mismatch&status=open"))[0]!;
    expect((await client.get<Json>(`/v1/payments/${payments[1]!.payment_id}`)).body.status).toBe("succeeded");
    if (status.status === "resolved") expect(status.resolution).toBe("auto_query");
    // Where the network's query carries no fee, paycore books its estimate: the fee still differs
    // and the exception stays open for an operator (nothing else changes by itself).
    else expect(status.resolution_note).toMatch(/amount or fee differs/);
  });

  it("gives the same result when run again, without duplicate exceptions or entries", async () => {
    const entries_before = await app.ctx.db.selectFrom("journal_entries").select("entry_id").execute();
    const exceptions_before = await exceptions("&status=open");
    const res = await app.admin("POST", "/admin/v1/reconciliations", { channel, date: DAY });
    expect(res.status).toBe(200);
    expect(res.body.run_count).toBe(2);
    expect(res.body.counts).toEqual({ matched: 3, network_only: 1, platform_only: 1, amount_mismatch: 1, status_mismatch: 1, fee_mismatch: 1, buffered: 0 });
    expect(await exceptions("&status=open")).toEqual(exceptions_before);
    expect((await app.ctx.db.selectFrom("journal_entries").select("entry_id").execute()).length).toBe(entries_before.length);
    const list = await app.admin("GET", `/admin/v1/reconciliations?channel=${channel}&date=${DAY}`);
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0].settled_amount).toBe(list.body.data[0].file_net);
  });

  it("resolves the rest with operators' actions; then the books agree with the file to the fen", async () => {
    const open = await exceptions("&status=open");
    const by = (kind: string) => open.find((e) => e.kind === kind)!;
    const act = (e: Json, action: string, token?: string) => app.admin("POST", `/admin/v1/reconciliation-exceptions/${e.exception_id}/resolve`, { action, note: `test ${action}` }, token);
    // A shortfall cannot be "accepted": it is a write-off.
    const wrong = await act(by("amount_mismatch"), "accept_network");
    expect(wrong.status).toBe(400);
    expect((await act(by("network_only"), "accept_network")).body.status).toBe("resolved");
    expect((await act(by("fee_mismatch"), "accept_network")).body.status).toBe("resolved");
    const status = open.find((e) => e.kind === "status_mismatch");
    if (status) expect((await act(status, "accept_network")).body.status).toBe("resolved");
    expect((await act(by("amount_mismatch"), "write_off")).body.resolution).toBe("write_off");
    // The dropped payment is above the four-eyes threshold once it is lowered: a proposal.
    expect((await app.admin("PATCH", `/admin/v1/reconciliation-settings/${channel}`, { write_off_four_eyes_min: 500 })).status).toBe(200);
    const proposed = await act(by("platform_only"), "write_off");
    expect(proposed.status).toBe(202);
    expect(proposed.body.pending_action).toBe("write_off");
    const own = await app.admin("POST", `/admin/v1/proposals/${proposed.body.proposal_id}/approve`, {});
    expect(own.status).toBe(403);
    const second = await createOperator(app.ctx, { name: "checker", role: "operator" });
    clock.advance(24 * 3_600_000); // the checker approves a business day later
    const approved = await app.admin("POST", `/admin/v1/proposals/${proposed.body.proposal_id}/approve`, {}, second.token);
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(await exceptions("&status=open")).toHaveLength(0);
    // Settled and adjusted: nothing left owed by or to the network for the day.
    expect(await receivable()).toBe(0n);
    const trial = await app.admin("GET", "/admin/v1/ledger/trial-balance");
    expect(trial.body.balanced).toBe(true);
    const audit = await app.admin("GET", "/admin/v1/audit-log?limit=100");
    const actions = audit.body.data.map((a: Json) => a.action);
    for (const action of ["reconciliation.exception.accept_network", "reconciliation.exception.write_off", "reconciliation.run"]) expect(actions).toContain(action);
  });

  it("books each adjustment on the business day of the action, the network's settlement on the statement's day", async () => {
    const entries = await app.ctx.db
      .selectFrom("journal_entries")
      .select(["event_type", "reference_id", "business_date"])
      .where("channel_id", "=", channel)
      .where("event_type", "in", ["reconciliation_adjusted", "network_settled"])
      .execute();
    const proposed = (await exceptions("&kind=platform_only&status=resolved"))[0]!;
    const days = entries.map((e) => [e.event_type, e.reference_id === proposed.exception_id ? "approved" : "acted", e.business_date]);
    // Actions the next morning (business day 05-03); the four-eyes write-off when approved (05-04).
    const adjusted = days.filter((d) => d[0] === "reconciliation_adjusted");
    expect(adjusted.length).toBeGreaterThanOrEqual(3);
    for (const d of adjusted) expect(d[2]).toBe(d[1] === "approved" ? "2026-05-04" : "2026-05-03");
    expect(adjusted.filter((d) => d[1] === "approved")).toHaveLength(1);
    expect(days.filter((d) => d[0] === "network_settled")).toEqual([["network_settled", "acted", DAY]]);
  });

  it("exports the day's report as CSV", async () => {
    const run = (await app.admin("GET", `/admin/v1/reconciliations?channel=${channel}&date=${DAY}`)).body.data[0];
    const csv = await app.admin("GET", `/admin/v1/reconciliations/${run.reconciliation_id}/report.csv`);
    expect(csv.status).toBe(200);
    expect(csv.body).toContain(`summary,${channel},${DAY},matched,3,`);
    expect(csv.body.split("\n").filter((l: string) => l.startsWith("exception,"))).toHaveLength(5);
    expect(csv.body).not.toMatch(/,open,/);
  });

  it("answers bad input with invalid_request naming the field", async () => {
    const bad = await app.admin("POST", "/admin/v1/reconciliations", { channel: "nope", date: DAY });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/channel/);
    const future = await app.admin("POST", "/admin/v1/reconciliations", { channel, date: "2026-06-01" });
    expect(future.status).toBe(400);
    expect(future.body.error.message).toMatch(/date/);
  });
});
