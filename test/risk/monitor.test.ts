import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { gambling, mondayBeijing, normal, simulateRisk, type SimResult } from "../../bench/simulate/risk-traffic.ts";

/**
 * Merchant monitoring on generated traffic through the live sandbox: a normal merchant is not
 * flagged, a gambling-like one is, with readable signals; operators act on it (alert, hold,
 * suspension, audited) and the automatic hold follows its threshold.
 */
describe("merchant monitoring", () => {
  const clock = new ManualClock(mondayBeijing(new Date("2026-03-01T00:00:00Z")));
  let app: TestApp;
  let result: SimResult;

  beforeAll(async () => {
    app = await startTestApp({ label: "risk_monitor", clock, sandbox: true });
    result = await simulateRisk(
      { clock, admin: app.admin, merchantClient: (c) => app.merchantClient(c), sandbox: app.sandbox! },
      {
        seed: 7,
        profiles: [
          normal({ name: "grocery", category: "grocery", ticket_fen: 6_000, weekly: 26, history_weekly: 6 }),
          gambling({ name: "casino as retail", category: "retail", weekly: 26 }),
        ],
      },
    );
  }, 240_000);
  afterAll(async () => app.close());

  it("flags the gambling-like merchant and not the normal one, with each signal's contribution", async () => {
    const [shop, casino] = result.merchants;
    expect(shop).toMatchObject({ gambling: false, flagged: false });
    expect(shop!.score).toBeLessThan(40);
    expect(casino).toMatchObject({ gambling: true, flagged: true });
    const flagged = await app.admin("GET", "/admin/v1/risk/merchants?flagged=true");
    expect(flagged.body.data.map((m: { merchant_id: string }) => m.merchant_id)).toEqual([casino!.merchant_id]);
    const detail = flagged.body.data[0];
    expect(detail.score).toBeGreaterThanOrEqual(40);
    expect(detail.score).toBeLessThanOrEqual(100);
    const night = detail.signals.find((s: { name: string }) => s.name === "night_share");
    expect(night.contribution).toBeGreaterThan(0);
    expect(night.detail).toMatch(/% of payments between 00:00 and 06:00/);
    const sum = detail.signals.reduce((s: number, x: { contribution: number }) => s + x.contribution, 0);
    expect(Math.abs(Math.min(100, Math.round(sum)) - detail.score)).toBeLessThanOrEqual(1);
    const alerts = await app.admin("GET", `/admin/v1/risk/alerts?kind=merchant_flagged&merchant_id=${casino!.merchant_id}`);
    expect(alerts.body.data).toHaveLength(1);
    // Running again raises no second alert while the first is open.
    await app.admin("POST", "/admin/v1/risk/monitor/run");
    expect((await app.admin("GET", `/admin/v1/risk/alerts?kind=merchant_flagged&merchant_id=${casino!.merchant_id}`)).body.data).toHaveLength(1);
  });

  it("fills the phone fingerprints of cards stored without one and reads the shared-phone signal from them", async () => {
    const casino = result.merchants[1]!.merchant_id;
    const sharing = async () => {
      const page = await app.admin("GET", "/admin/v1/risk/merchants?flagged=true");
      const m = page.body.data.find((x: { merchant_id: string }) => x.merchant_id === casino);
      return m.signals.find((s: { name: string }) => s.name === "id_holders_sharing_phone").value as number;
    };
    const before = await sharing();
    expect(before).toBeGreaterThan(0);
    const prints = await app.ctx.db.selectFrom("cards").select(["card_id", "phone_fingerprint"]).orderBy("card_id").execute();
    expect(prints.length).toBeGreaterThan(2);
    expect(prints.every((c) => typeof c.phone_fingerprint === "string")).toBe(true);
    // As cards stored before the column existed (migration 1701) look.
    await app.ctx.db.updateTable("cards").set({ phone_fingerprint: null }).execute();
    expect((await app.admin("POST", "/admin/v1/risk/monitor/run")).status).toBe(200);
    expect(await app.ctx.db.selectFrom("cards").select(["card_id", "phone_fingerprint"]).orderBy("card_id").execute()).toEqual(prints);
    expect(await sharing()).toBe(before);
  });

  it("operators hold settlement, suspend and alert, each audited; the hold is released only with a second operator", async () => {
    const casino = result.merchants[1]!.merchant_id;
    const hold = await app.admin("POST", `/admin/v1/risk/merchants/${casino}/actions`, { action: "settlement_hold", reason: "gambling patterns" });
    expect(hold.status).toBe(200);
    expect(await app.ctx.db.selectFrom("settlement_holds").selectAll().where("merchant_id", "=", casino).executeTakeFirst()).toBeTruthy();
    const release = await app.admin("DELETE", `/admin/v1/merchants/${casino}/settlement-hold`);
    expect(release.status).toBe(202);
    expect(await app.ctx.db.selectFrom("settlement_holds").selectAll().where("merchant_id", "=", casino).executeTakeFirst()).toBeTruthy();
    expect((await app.admin("POST", `/admin/v1/risk/merchants/${casino}/actions`, { action: "alert", reason: "call the acquirer" })).body.alert_id).toMatch(/^ral_/);
    expect((await app.admin("POST", `/admin/v1/risk/merchants/${casino}/actions`, { action: "suspend", reason: "gambling" })).status).toBe(200);
    expect((await app.admin("GET", `/admin/v1/merchants/${casino}`)).body.status).toBe("suspended");
    const audit = await app.admin("GET", `/admin/v1/audit-log?target_id=${casino}&limit=100`);
    const actions = audit.body.data.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["settlement.hold", "risk.merchant.alert", "risk.merchant.suspend"]));
    const bad = await app.admin("POST", `/admin/v1/risk/merchants/${casino}/actions`, { action: "explode", reason: "x" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain("action");
  });

  it("holds settlement automatically above the second threshold only when it is configured", async () => {
    const shop = result.merchants[0]!.merchant_id;
    const casino = result.merchants[1]!.merchant_id;
    await app.ctx.db.deleteFrom("settlement_holds").where("merchant_id", "=", casino).execute();
    const off = await app.admin("POST", "/admin/v1/risk/monitor/run");
    expect(off.body.held).toBe(0);
    expect((await app.admin("PATCH", "/admin/v1/risk/settings", { auto_hold_threshold: 30 })).status).toBe(400);
    expect((await app.admin("PATCH", "/admin/v1/risk/settings", { auto_hold_threshold: 50 })).body.auto_hold_threshold).toBe(50);
    const on = await app.admin("POST", "/admin/v1/risk/monitor/run");
    expect(on.body.held).toBe(1);
    expect(await app.ctx.db.selectFrom("settlement_holds").selectAll().where("merchant_id", "=", casino).executeTakeFirst()).toBeTruthy();
    expect(await app.ctx.db.selectFrom("settlement_holds").selectAll().where("merchant_id", "=", shop).executeTakeFirst()).toBeFalsy();
  });
});
