import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { AMOUNT_FEN_MAX } from "../../src/kernel/money.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { residentId } from "../support/sandbox.ts";
import { signCard, type SandboxCard } from "./helpers.ts";

type Json = Record<string, unknown> & { error?: { code: string; message: string } };
const MAX = Number(AMOUNT_FEN_MAX);

/**
 * Every amount the API accepts ends final at once with a network that answers: the largest one
 * (1000000000000000 fen) used to stay `processing` because NetsUnion's amount field could not
 * carry it, and the network refused the message as malformed.
 */
describe("any accepted amount ends final", () => {
  const clock = new ManualClock("2026-05-02T03:00:00Z");
  let app: TestApp;
  let shop: PaycoreClient;
  let agreement_id = "";
  let n = 0;

  beforeAll(async () => {
    app = await startTestApp({ label: "amounts", clock, sandbox: true });
    shop = app.merchantClient((await createTestMerchant(app)).creds);
    const added = await app.sandbox!.send<SandboxCard>("POST", "/sandbox/v1/cards", {
      holder_name: "钱多多", id_number: residentId(4242), phone: "13900004242", bank_code: "ICBC", card_type: "debit", balance: MAX, daily_limit: MAX,
    });
    expect(added.status).toBe(201);
    agreement_id = await signCard(app, shop, added.body, "amounts-sign");
  });
  afterAll(async () => app.close(), 120_000);

  const pay = (amount: number) => shop.post<Json>("/v1/payments", { out_trade_no: `amt-${++n}`, agreement_id, amount, currency: "CNY", description: "amount" });

  it("the largest amount succeeds at once, and one fen more is refused as input", async () => {
    const largest = await pay(MAX);
    expect(largest.status).toBe(201);
    expect(largest.body).toMatchObject({ status: "succeeded", amount: MAX });
    const over = await pay(MAX + 1);
    expect(over.status).toBe(400);
    expect(over.body.error?.code).toBe("invalid_request");
  });

  it("reports one limit with one message for every amount too large", async () => {
    const messages = new Set<string>();
    for (const amount of [MAX + 1, 2e15, 1e16, 1e300]) {
      const res = await pay(amount);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: "invalid_request", field: "amount" });
      messages.add(res.body.error!.message);
    }
    expect([...messages]).toEqual([`amount: must be at most ${MAX} fen (10 trillion yuan)`]);
    const fraction = await pay(1.5);
    expect(fraction.body.error?.message).toBe("amount: must be an integer number of fen");
  });

  for (const channel of ["netsunion", "unionpay_nocard"] as const) {
    it(`on ${channel}: any amount from 1 fen to the maximum ends succeeded or failed, never processing`, async () => {
      if (channel !== "netsunion") expect((await app.admin("PATCH", "/admin/v1/channels/netsunion", { enabled: false })).status).toBe(200);
      const amounts = fc.oneof(
        fc.constantFrom(1, 99, 100, MAX - 1, MAX),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 1, max: MAX }),
      );
      await fc.assert(
        fc.asyncProperty(amounts, async (amount) => {
          const res = await pay(amount);
          expect(res.status, JSON.stringify(res.body)).toBe(201);
          expect(["succeeded", "failed"]).toContain(res.body.status);
          expect(res.body.channel).toBe(channel);
        }),
        { numRuns: 25, seed: 20260502 },
      );
    });
  }
});
