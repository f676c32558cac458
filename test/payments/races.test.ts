import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, testUscc, type TestApp } from "../support/app.ts";
import { cardBody, catalogue, pickCard, signCard, type SandboxCard } from "./helpers.ts";

type Json = Record<string, unknown> & { error?: { code: string; message: string } };

/** A clock that moves one millisecond every time it is read: concurrent work gets distinct, ordered times. */
class TickingClock extends ManualClock {
  override now(): Date {
    this.advance(1);
    return super.now();
  }
}

/**
 * Unbind against payments in flight: a payment whose intent is recorded after the unbind must
 * never reach the network. The intent insert and the unbind take the agreement row's lock in
 * turn, so each payment is either wholly before the unbind or refused with agreement_inactive.
 */
describe("an unbind in the middle of payments", () => {
  const clock = new TickingClock("2026-05-02T03:00:00Z");
  let app: TestApp;
  let A: PaycoreClient;
  let cards: SandboxCard[];
  const used = new Set<string>();
  let n = 0;

  beforeAll(async () => {
    app = await startTestApp({ label: "races_unbind", clock, sandbox: true });
    const a = await createTestMerchant(app);
    A = app.merchantClient(a.creds);
    cards = await catalogue(app);
  });
  afterAll(async () => app.close());

  const freshCard = (unified: boolean) => {
    const card = pickCard(cards, { unified, skip: [...used] });
    used.add(card.card_number);
    return card;
  };
  const pay = (agreement_id: string, amount = 100) => {
    n += 1;
    return A.post<Json>("/v1/payments", { out_trade_no: `race-${n}`, agreement_id, amount, currency: "CNY", description: "race" });
  };

  async function agreementRows(agreement_id: string) {
    const agreement = await app.ctx.db.selectFrom("agreements").selectAll().where("agreement_id", "=", agreement_id).executeTakeFirstOrThrow();
    const payments = await app.ctx.db.selectFrom("payments").selectAll().where("agreement_id", "=", agreement_id).execute();
    return { agreement, payments };
  }

  it("a stream of concurrent payments: none recorded after the unbind succeeds; the late ones get agreement_inactive", async () => {
    const card = freshCard(true);
    const agr = await signCard(app, A, card, "race-sign-stream");
    const stream: Promise<{ status: number; body: Json }>[] = [];
    let unbind: Promise<{ status: number; body: Json }> | null = null;
    for (let i = 0; i < 40; i++) {
      stream.push(pay(agr));
      if (i === 15) unbind = A.post<Json>(`/v1/agreements/${agr}/unbind`, {});
      await new Promise((r) => setImmediate(r));
    }
    const answers = await Promise.all(stream);
    expect((await unbind!).status).toBe(200);
    const { agreement, payments } = await agreementRows(agr);
    expect(agreement.status).toBe("unbound");
    const unbound_at = agreement.unbound_at!.getTime();
    for (const p of payments) {
      if (p.status === "succeeded") expect(p.created_at.getTime(), `payment ${p.payment_id}`).toBeLessThan(unbound_at);
    }
    for (const a of answers) {
      if (a.status === 201) continue;
      expect(a.status).toBe(422);
      expect(a.body.error?.code).toBe("agreement_inactive");
    }
    // The last payments came after the unbind had committed: refused, and nothing recorded for them.
    expect(answers.filter((a) => a.body.error?.code === "agreement_inactive").length).toBeGreaterThan(0);
    expect(payments.length).toBe(answers.filter((a) => a.status === 201).length);
  });

  it("an unbind that commits between a payment's checks and its intent wins: the payment is refused and nothing is sent", async () => {
    const card = freshCard(true);
    const agr = await signCard(app, A, card, "race-sign-window");
    const channels = app.deps.channels;
    const views = channels.views.bind(channels);
    let armed = true;
    // Routing runs after the agreement was checked and before the intent is recorded: the unbind lands there.
    channels.views = async () => {
      if (armed) {
        armed = false;
        const ub = await A.post<Json>(`/v1/agreements/${agr}/unbind`, {});
        expect(ub.status).toBe(200);
      }
      return views();
    };
    try {
      const late = await pay(agr, 2_500);
      expect(late.status).toBe(422);
      expect(late.body.error?.code).toBe("agreement_inactive");
    } finally {
      channels.views = views;
    }
    expect(armed).toBe(false);
    const { payments } = await agreementRows(agr);
    expect(payments).toEqual([]);
    const after = (await catalogue(app)).find((c) => c.card_number === card.card_number)!;
    expect(after.balance).toBe(card.balance);
  });

  it("two concurrent refunds with one out_refund_no on two payments: one refund, the other 409 duplicate_out_refund_no", async () => {
    const agr = await signCard(app, A, freshCard(false), "race-sign-refunds");
    for (let round = 0; round < 4; round++) {
      const [p1, p2] = await Promise.all([pay(agr, 1_000), pay(agr, 1_000)]);
      expect([p1.body.status, p2.body.status]).toEqual(["succeeded", "succeeded"]);
      const out_refund_no = `race-refund-${round}`;
      const answers = await Promise.all([p1, p2].map((p) => A.post<Json>(`/v1/payments/${p.body.payment_id}/refunds`, { out_refund_no, amount: 300 })));
      expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
      expect(answers.find((a) => a.status === 409)!.body.error?.code).toBe("duplicate_out_refund_no");
      const refunds = await app.ctx.db.selectFrom("refunds").select(["payment_id"]).where("out_refund_no", "=", out_refund_no).execute();
      expect(refunds).toHaveLength(1);
    }
  });

  it("two concurrent payments that both sync the card to the other network use the one agreement", async () => {
    const card = freshCard(true);
    const agr = await signCard(app, A, card, "race-sign-sync");
    const first = await pay(agr, 100);
    const signing_channel = first.body.channel as string;
    expect((await app.admin("PATCH", `/admin/v1/channels/${signing_channel}`, { enabled: false })).status).toBe(200);
    // The sync takes a while at the network, so both payments are inside it at once.
    await app.sandbox!.send("POST", "/sandbox/v1/faults", { channel: "*", operation: "sync", kind: "latency", rate: 1, latency_ms: 200, seed: 7 });
    try {
      const answers = await Promise.all([pay(agr, 200), pay(agr, 300), pay(agr, 400)]);
      for (const a of answers) {
        expect(a.status, JSON.stringify(a.body)).toBe(201);
        expect(a.body).toMatchObject({ status: "succeeded" });
        expect(a.body.channel).not.toBe(signing_channel);
      }
      const ids = answers.map((a) => a.body.payment_id as string);
      const rows = await app.ctx.db.selectFrom("payments").select(["card_id", "card_agreement_id"]).where("payment_id", "in", ids).execute();
      expect(rows).toHaveLength(3);
      const active = await app.ctx.db.selectFrom("card_agreements").select("card_agreement_id").where("card_id", "=", rows[0]!.card_id).where("channel_id", "!=", signing_channel).where("status", "=", "active").execute();
      expect(active).toHaveLength(1);
      expect(new Set(rows.map((r) => r.card_agreement_id))).toEqual(new Set([active[0]!.card_agreement_id]));
    } finally {
      await app.sandbox!.send("DELETE", "/sandbox/v1/faults");
      await app.admin("PATCH", `/admin/v1/channels/${signing_channel}`, { enabled: true });
    }
  });

  it("two concurrent sign starts with one out_request_no are one sign request; two registrations of one USCC are one entity", async () => {
    const card = freshCard(false);
    const body = { out_request_no: "race-sign-twice", user_ref: "u-race", card: cardBody(card) };
    const starts = await Promise.all([A.post<Json>("/v1/agreements", body), A.post<Json>("/v1/agreements", body)]);
    for (const s of starts) expect(s.status, JSON.stringify(s.body)).toBeLessThan(300);
    expect(starts[0]!.body.sign_request_id).toBe(starts[1]!.body.sign_request_id);

    const entity = { legal_name: "Race Entity Co., Ltd.", uscc: testUscc() };
    const made = await Promise.all([app.admin("POST", "/admin/v1/entities", entity), app.admin("POST", "/admin/v1/entities", entity)]);
    expect(made.map((m) => m.status).sort()).toEqual([200, 201]);
    expect(made[0]!.body.entity_id).toBe(made[1]!.body.entity_id);
  });
});
