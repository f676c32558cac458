import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard, type SandboxCard } from "./helpers.ts";

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
});
