import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { SIGNING_LIMITS } from "../../src/agreements/signing.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { cardBody, catalogue, lastOtp, pickCard, signCard } from "./helpers.ts";

type Json = Record<string, unknown> & { error?: { code: string; message: string } };

/**
 * Issue 8.5: paycore's own confirmation code (cross-entity reuse) counts wrong guesses with one
 * atomic statement, so parallel guesses can never get past the limit — on either engine.
 */
describe("the platform code's attempt counter under parallel guesses", () => {
  let app: TestApp;
  let stranger: PaycoreClient;

  beforeAll(async () => {
    app = await startTestApp({ label: "otprace", sandbox: true });
    const home = await createTestMerchant(app, { name: "Home Platform" });
    const other = await createTestMerchant(app, { name: "Other Entity Shop" });
    stranger = app.merchantClient(other.creds);
    const card = pickCard(await catalogue(app), { unified: true, card_type: "debit" });
    await signCard(app, app.merchantClient(home.creds), card, "home-1", "alice");
    (globalThis as { __card?: typeof card }).__card = card;
  });
  afterAll(async () => app.close());

  it("40 parallel wrong codes never exceed the limit, and the right code afterwards is refused", async () => {
    const card = (globalThis as { __card?: Parameters<typeof cardBody>[0] }).__card!;
    const start = await stranger.post<Json>("/v1/agreements", { out_request_no: "race-1", user_ref: "mallory", card: cardBody(card) });
    expect(start.body.status).toBe("otp_sent");
    const sign_request_id = start.body.sign_request_id as string;
    const code = await lastOtp(app, card.phone);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, "0");
    const answers = await Promise.all(Array.from({ length: 40 }, () => stranger.post<Json>("/v1/agreements/confirm", { sign_request_id, otp: wrong })));
    const codes = answers.map((a) => a.body.error?.code);
    expect(answers.every((a) => a.status >= 400 && a.status < 500)).toBe(true);
    const max = SIGNING_LIMITS.platform_otp_attempts_max;
    // Exactly max-1 guesses were told "wrong, tries left"; every other one hit the limit.
    expect(codes.filter((c) => c === "otp_invalid")).toHaveLength(max - 1);
    expect(codes.filter((c) => c === "otp_attempts_exceeded")).toHaveLength(40 - (max - 1));
    const row = await app.ctx.db.selectFrom("sign_requests").select(["otp_attempts", "status", "failure_code"]).where("sign_request_id", "=", sign_request_id).executeTakeFirstOrThrow();
    expect(row.otp_attempts).toBeLessThanOrEqual(max);
    expect(row.status).toBe("failed");
    expect(row.failure_code).toBe("otp_attempts_exceeded");
    const right = await stranger.post<Json>("/v1/agreements/confirm", { sign_request_id, otp: code });
    expect(right.status).toBe(422);
    expect(right.body.error?.code).toBe("otp_attempts_exceeded");
    const agreements = await app.ctx.db.selectFrom("agreements").select("agreement_id").where("merchant_id", "=", stranger.creds.mch_id).execute();
    expect(agreements).toHaveLength(0);
  });
});
