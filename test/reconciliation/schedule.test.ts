import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { RECONCILED_CHANNELS, runScheduledOnce, sandboxSettlementSource } from "../../src/reconciliation/index.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard } from "../payments/helpers.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Three network days of one channel, run by the schedule against the live sandbox:
 * - day 1 is clean (payments, a refund, the network's fees as paycore booked them): nothing is
 *   found; its file is late (not published at the first tries: a `file_late` alert past the late
 *   time) and is reconciled when it arrives; two payments of the last minutes before the cut-off
 *   are booked by the network on day 2 and wait in the buffer instead of being breaks;
 * - day 2's file has one of them (matched late) and not the other (a platform-only exception once
 *   the buffer is over), a debit paycore never asked for (network-only: the `refund` action returns
 *   it) and a payment whose outcome paycore could not learn (status mismatch: `requery` settles it);
 * - day 3's file carries that refund: matched, not a new break.
 */
describe("scheduled reconciliation, late files, the near-cut-off buffer, refund and requery", () => {
  // Tuesday 2026-06-09, 10:00 Beijing.
  const clock = new ManualClock("2026-06-09T02:00:00Z");
  const D1 = "2026-06-09";
  const D2 = "2026-06-10";
  const D3 = "2026-06-11";
  let app: TestApp;
  let client: PaycoreClient;
  let agreement_id = "";
  let channel = "";
  let n = 0;
  const near: Json[] = [];
  let unknown: Json;
  let rogue = { txn_id: "", network_txn_id: "" };

  async function pay(amount: number): Promise<Json> {
    n += 1;
    clock.advance(1_000);
    const res = await client.post<Json>("/v1/payments", { out_trade_no: `s-${n}`, agreement_id, amount, currency: "CNY", description: "scheduled recon" });
    expect(res.status, res.text).toBe(201);
    return res.body;
  }
  async function sandbox(method: "POST" | "PUT" | "DELETE", path: string, body?: unknown) {
    const res = await app.sandbox!.send(method, path, body);
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    return res.body as Json;
  }
  const tick = () => runScheduledOnce(app.deps, sandboxSettlementSource(app.sandbox!.url));
  async function exceptions(date: string, query = ""): Promise<Json[]> {
    const res = await app.admin("GET", `/admin/v1/reconciliation-exceptions?channel=${channel}&date=${date}&limit=100${query}`);
    expect(res.status).toBe(200);
    return res.body.data;
  }
  async function runOf(date: string): Promise<Json | undefined> {
    return (await app.admin("GET", `/admin/v1/reconciliations?channel=${channel}&date=${date}`)).body.data[0];
  }
  async function alerts(date: string): Promise<string[]> {
    return (await app.admin("GET", `/admin/v1/reconciliation-alerts?channel=${channel}&date=${date}`)).body.data.map((a: Json) => a.kind);
  }
  const act = (e: Json, action: string) => app.admin("POST", `/admin/v1/reconciliation-exceptions/${e.exception_id}/resolve`, { action, note: `test ${action}` });

  beforeAll(async () => {
    app = await startTestApp({ label: "recon_sched", clock, sandbox: true, channel_timeout_ms: 2_000 });
    const m = await createTestMerchant(app);
    client = app.merchantClient(m.creds);
    const card = pickCard(await catalogue(app), { unified: true });
    agreement_id = await signCard(app, client, card, "sign-sched");
    const first = await pay(1_000);
    channel = first.channel as string;
    // Only this channel is scheduled here (the others would reconcile empty files).
    for (const other of RECONCILED_CHANNELS.filter((c) => c !== channel)) {
      expect((await app.admin("PATCH", `/admin/v1/reconciliation-settings/${other}`, { enabled: false })).status).toBe(200);
    }
    // Day 1: three payments and a refund, then two payments at 22:52 Beijing (8 minutes before the cut-off).
    const second = await pay(2_345);
    await pay(3_999);
    const refund = await client.post<Json>(`/v1/payments/${second.payment_id}/refunds`, { out_refund_no: "sr-1", amount: 345, reason: "recon" });
    expect(refund.body.status).toBe("succeeded");
    clock.set("2026-06-09T14:52:00Z");
    near.push(await pay(4_100), await pay(4_200));
    await sandbox("POST", "/sandbox/v1/statement-faults", { channel, date: D1, kind: "next_day", count: 2 });
    await sandbox("POST", "/sandbox/v1/statement-faults", { channel, date: D2, kind: "drop", count: 1 }); // the first of them never comes
    await sandbox("POST", "/sandbox/v1/statement-faults", { channel, date: D1, kind: "late", count: 2 });
  }, 180_000);
  afterAll(async () => app.close());

  it("tries a day once its file is due; a file not yet published is tried again, and alerts once it is late", async () => {
    clock.set("2026-06-09T17:30:00Z"); // 01:30 Beijing: D1's file is due at 02:00
    expect((await tick()).filter((o) => o.date === D1)).toEqual([]);
    clock.set("2026-06-09T18:30:00Z"); // due, not published
    const first = (await tick()).find((o) => o.date === D1)!;
    expect(first.outcome).toBe("not_ready");
    expect(first.message).toMatch(/not published/);
    expect(await alerts(D1)).toEqual([]);
    expect(await runOf(D1)).toBeUndefined();
    clock.set("2026-06-09T20:30:00Z"); // past the late time (due + 120 minutes), still not published
    expect((await tick()).find((o) => o.date === D1)!.outcome).toBe("not_ready");
    expect(await alerts(D1)).toEqual(["file_late"]);
  });

  it("reconciles the late file when it arrives: a clean day (fees included) finds nothing, the near-cut-off payments wait in the buffer", async () => {
    clock.advance(60_000);
    expect((await tick()).find((o) => o.date === D1)!.outcome).toBe("reconciled");
    const run = (await runOf(D1))!;
    expect(run.counts).toEqual({ matched: 4, network_only: 0, platform_only: 0, amount_mismatch: 0, status_mismatch: 0, fee_mismatch: 0, buffered: 2 });
    expect(run.open_exceptions).toBe(0);
    expect(await exceptions(D1)).toEqual([]);
    const buffered = await exceptions(D1, "&status=buffered");
    expect(buffered.map((e) => e.payment_id).sort()).toEqual(near.map((p) => p.payment_id).sort());
    expect(buffered.every((e) => e.due_date === D2)).toBe(true);
    // Done days are not run again by the schedule.
    clock.advance(60_000);
    expect((await tick()).find((o) => o.date === D1)).toBeUndefined();
  });

  it("day 2: the buffered payment that came is matched late, the one that did not opens; a rogue debit and an unknown outcome are breaks", async () => {
    clock.set("2026-06-10T03:00:00Z"); // 11:00 Beijing on day 2
    // An unknown outcome the network never announces, and whose query fails during the run.
    await sandbox("PUT", "/sandbox/v1/config", { paycore_callback_url: null });
    await sandbox("POST", "/sandbox/v1/faults", { channel, operation: "pay", kind: "unknown", rate: 1, seed: 5 });
    unknown = await pay(7_700);
    expect(unknown.status).toBe("processing");
    await sandbox("DELETE", "/sandbox/v1/faults");
    // A debit on the card paycore never asked for (sent straight over the channel): 长款.
    const agreement = await app.ctx.db.selectFrom("card_agreements").select("network_agreement_no").where("channel_id", "=", channel).executeTakeFirstOrThrow();
    const adapter = await app.deps.channels.adapter(channel);
    const txn_id = `ROGUE${Date.now()}`;
    const debit = await adapter.pay({ txn_id, order_id: txn_id, agreement_no: agreement.network_agreement_no, amount_fen: 6_600n });
    expect(debit.status).toBe("succeeded");
    rogue = { txn_id, network_txn_id: debit.status === "succeeded" ? debit.network_txn_id : "" };

    await sandbox("POST", "/sandbox/v1/faults", { channel, operation: "query", kind: "unknown", rate: 1, seed: 6 });
    clock.set("2026-06-10T18:30:00Z");
    expect((await tick()).find((o) => o.date === D2)!.outcome).toBe("reconciled");
    await sandbox("DELETE", "/sandbox/v1/faults");
    const run = (await runOf(D2))!;
    // The second near-cut-off payment opens day 2's file (the first was dropped); the rogue debit; the unknown outcome.
    expect(run.counts).toMatchObject({ matched: 1, network_only: 1, status_mismatch: 1, platform_only: 0, fee_mismatch: 0, amount_mismatch: 0 });
    const day1 = await exceptions(D1, "&status=resolved");
    expect(day1.map((e) => [e.payment_id, e.resolution])).toEqual([[near[1]!.payment_id, "matched_late"]]);
    const opened = await exceptions(D1, "&status=open");
    expect(opened.map((e) => [e.kind, e.payment_id])).toEqual([["platform_only", near[0]!.payment_id]]);
    expect(await exceptions(D1, "&status=buffered")).toEqual([]);
  });

  it("requery: settles the status mismatch through the payment's state machine; on a platform-only record it records the answer", async () => {
    const mismatch = (await exceptions(D2, "&kind=status_mismatch"))[0]!;
    expect(mismatch.status).toBe("open");
    expect(mismatch.payment_id).toBe(unknown.payment_id);
    const res = await act(mismatch, "requery");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe("resolved");
    expect(res.body.resolution).toBe("requery");
    expect((await client.get<Json>(`/v1/payments/${unknown.payment_id}`)).body.status).toBe("succeeded");

    const missing = (await exceptions(D1, "&kind=platform_only&status=open"))[0]!;
    const noted = await act(missing, "requery");
    expect(noted.status).toBe(200);
    expect(noted.body.status).toBe("open");
    expect(noted.body.resolution_note).toMatch(/requery: paycore's record is succeeded/);
  });

  it("refund: returns the rogue debit to the cardholder over the network, books it, and the next day's file matches that refund", async () => {
    const longkuan = (await exceptions(D2, "&kind=network_only"))[0]!;
    expect(longkuan.network_txn_id).toBe(rogue.network_txn_id);
    const res = await act(longkuan, "refund");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe("resolved");
    expect(res.body.resolution).toBe("refund");
    expect(res.body.resolution_note).toMatch(/network refund/);
    // Once resolved, another action is refused; the same one answers the same.
    expect((await act(longkuan, "accept_network")).status).toBe(400);
    expect((await act(longkuan, "refund")).body.resolution).toBe("refund");
    const entries = await app.ctx.db.selectFrom("journal_entries").select(["entry_id", "business_date"]).where("reference_id", "=", longkuan.exception_id).execute();
    expect(entries.length).toBe(1);
    // A D2 exception refunded at 02:30 Beijing on 06-11: booked on the business day of the refund.
    expect(entries[0]!.business_date).toBe(D3);
    const audit = await app.admin("GET", "/admin/v1/audit-log?limit=100");
    const actions = audit.body.data.map((a: Json) => a.action);
    for (const action of ["reconciliation.exception.refund", "reconciliation.exception.requery"]) expect(actions).toContain(action);

    clock.set("2026-06-11T18:30:00Z");
    expect((await tick()).find((o) => o.date === D3)!.outcome).toBe("reconciled");
    const run = (await runOf(D3))!;
    expect(run.counts).toMatchObject({ matched: 1, network_only: 0, platform_only: 0 });
    expect(await exceptions(D3)).toEqual([]);
    const trial = await app.admin("GET", "/admin/v1/ledger/trial-balance");
    expect(trial.body.balanced).toBe(true);
  });

  it("a day that leaves the look-back window without a file raises file_missing once", async () => {
    clock.set("2026-06-15T18:30:00Z"); // 02:30 Beijing on 06-16: the window is 06-13…06-15, 06-12 just left it unreconciled
    expect((await tick()).find((o) => o.date === "2026-06-12")?.outcome).toBe("missing");
    clock.advance(60_000);
    await tick();
    const missing = (await app.admin("GET", `/admin/v1/reconciliation-alerts?channel=${channel}&date=2026-06-12`)).body.data.filter((a: Json) => a.kind === "file_missing");
    expect(missing).toHaveLength(1);
    expect(missing[0].occurrences).toBe(1);
  });
});
