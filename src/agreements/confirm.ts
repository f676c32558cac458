import type { AgreementRow, SignRequestRow } from "../db/index.ts";
import { safeEqual } from "../kernel/crypto/index.ts";
import { PaycoreError } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import type { MerchantRow } from "../db/index.ts";
import { callChannel, type PaymentDeps } from "../payments/deps.ts";
import { assertTransition, SIGN_REQUEST_TRANSITIONS } from "../payments/states.ts";
import { emitAgreementSigned } from "../payments/effects.ts";
import { declineError, getSignRequest, otpHash, sendPlatformOtp, SIGNING_LIMITS } from "./signing.ts";
import { createMerchantAgreement, recordCardAgreement } from "./store.ts";
import { openElements, openSealedElements, updateCardElements } from "./vault.ts";
import { randomInt } from "node:crypto";
import type { SignedResult, VerifiedElements } from "../channels/types.ts";

function verifiedBitmap(v: VerifiedElements): string {
  return (["name", "id_number", "card_number", "phone", "cvn2", "expiry"] as const).map((k) => (v[k] ? "1" : "0")).join("");
}

/** `POST /v1/agreements/confirm`: the cardholder's code makes the agreement. */
export interface Confirmed {
  agreement: AgreementRow;
  sign_request: SignRequestRow;
  /** False when the request was already signed (a repeat). */
  created: boolean;
}

export async function confirmSigning(deps: PaymentDeps, merchant: MerchantRow, sign_request_id: string, otp: string): Promise<Confirmed> {
  const sr = await getSignRequest(deps.ctx.db, merchant.merchant_id, sign_request_id);
  const done = await alreadyFinal(deps, sr);
  if (done) return { ...done, created: false };
  if (deps.ctx.clock.now() > sr.expires_at) {
    await finish(deps, sr, "expired", "sign_request_expired");
    throw new PaycoreError("otp_expired", "this sign request has expired; start again");
  }
  switch (sr.kind) {
    case "platform_otp":
      return confirmPlatformOtp(deps, sr, otp);
    case "bank_otp":
      return confirmBankOtp(deps, sr, otp);
    case "reuse":
      throw new PaycoreError("invalid_request", "sign_request_id: this request needed no code", "sign_request_id");
  }
}

async function alreadyFinal(deps: PaymentDeps, sr: SignRequestRow): Promise<{ agreement: AgreementRow; sign_request: SignRequestRow } | null> {
  switch (sr.status) {
    case "signed": {
      const agreement = await deps.ctx.db.selectFrom("agreements").selectAll().where("agreement_id", "=", sr.agreement_id!).executeTakeFirstOrThrow();
      return { agreement, sign_request: sr };
    }
    case "failed":
      throw sr.failure_code === "otp_attempts_exceeded"
        ? new PaycoreError("otp_attempts_exceeded", "too many wrong codes; start signing again")
        : new PaycoreError("agreement_inactive", `this sign request failed (${sr.failure_code ?? "declined"}); start again`);
    case "expired":
      throw new PaycoreError("otp_expired", "this sign request has expired; start again");
    case "applying":
      throw new PaycoreError("channel_unavailable", "no code was sent yet: repeat POST /v1/agreements with the same out_request_no");
    case "otp_sent":
      return null;
  }
}

async function finish(deps: PaymentDeps, sr: SignRequestRow, status: "failed" | "expired", failure_code: string): Promise<void> {
  assertTransition(SIGN_REQUEST_TRANSITIONS, "sign request", sr.status, status);
  const now = deps.ctx.clock.now();
  await deps.ctx.db.updateTable("sign_requests").set({ status, failure_code, updated_at: now }).where("sign_request_id", "=", sr.sign_request_id).where("status", "=", sr.status).execute();
}

async function confirmPlatformOtp(deps: PaymentDeps, sr: SignRequestRow, otp: string): Promise<Confirmed> {
  const now = deps.ctx.clock.now();
  if (!sr.otp_expires_at || now > sr.otp_expires_at) throw new PaycoreError("otp_expired", "the code has expired; ask for a new one");
  const max = SIGNING_LIMITS.platform_otp_attempts_max;
  if (!safeEqual(otpHash(deps, sr.sign_request_id, otp), sr.otp_hash ?? "")) {
    // One atomic statement counts the guess: parallel guesses can never get past the limit.
    const counted = await deps.ctx.db
      .updateTable("sign_requests")
      .set((eb) => ({ otp_attempts: eb("otp_attempts", "+", 1), updated_at: now }))
      .where("sign_request_id", "=", sr.sign_request_id)
      .where("status", "=", "otp_sent")
      .where("otp_attempts", "<", max)
      .returning(["otp_attempts"])
      .executeTakeFirst();
    if (!counted) {
      // The limit was reached (or the request finished) by another guess meanwhile.
      const current = await getSignRequest(deps.ctx.db, sr.merchant_id, sr.sign_request_id);
      if (current.status !== "otp_sent") {
        const done = await alreadyFinal(deps, current);
        if (done) throw new PaycoreError("otp_invalid", "the code is wrong");
      }
      await finish(deps, current, "failed", "otp_attempts_exceeded");
      throw new PaycoreError("otp_attempts_exceeded", "too many wrong codes; start signing again");
    }
    if (counted.otp_attempts >= max) {
      await finish(deps, sr, "failed", "otp_attempts_exceeded");
      throw new PaycoreError("otp_attempts_exceeded", "too many wrong codes; start signing again");
    }
    throw new PaycoreError("otp_invalid", `the code is wrong (${max - counted.otp_attempts} tries left)`);
  }
  if (sr.otp_attempts >= max) {
    await finish(deps, sr, "failed", "otp_attempts_exceeded");
    throw new PaycoreError("otp_attempts_exceeded", "too many wrong codes; start signing again");
  }
  return makeAgreement(deps, sr, null);
}

async function confirmBankOtp(deps: PaymentDeps, sr: SignRequestRow, otp: string): Promise<Confirmed> {
  const result: SignedResult = await callChannel(deps, sr.channel_id!, (a) => a.signConfirm({ sign_txn_id: sr.sign_txn_id!, otp }));
  if (result.status === "pending") {
    // Unknown outcome: ask the network what became of the sign request before answering. The
    // query names the agreement but not which elements the bank verified.
    const q = await callChannel(deps, sr.channel_id!, (a) => a.query({ txn_id: sr.sign_txn_id! }));
    if (q.status === "succeeded" && q.agreement_no) return makeAgreement(deps, sr, { agreement_no: q.agreement_no, verified: null });
    throw new PaycoreError("channel_unavailable", "the network did not answer; confirm again with the same code");
  }
  if (result.status === "failed") {
    if (result.reason === "otp_attempts_exceeded" || !["otp_invalid", "otp_expired"].includes(result.reason)) await finish(deps, sr, "failed", result.reason);
    throw declineError(result.reason, result.message);
  }
  return makeAgreement(deps, sr, { agreement_no: result.agreement_no, verified: verifiedBitmap(result.verified) });
}

/** One transaction: card agreement (if new), the vault's verified elements, the merchant agreement, the event. */
async function makeAgreement(deps: PaymentDeps, sr: SignRequestRow, network: { agreement_no: string; verified: string | null } | null): Promise<Confirmed> {
  const now = deps.ctx.clock.now();
  return deps.ctx.db.transaction().execute(async (trx) => {
    if (network) {
      await recordCardAgreement(trx, { card_id: sr.card_id, channel_id: sr.channel_id!, network_agreement_no: network.agreement_no, verified_elements: network.verified, origin: "signed", now });
      const elements = openSealedElements(deps.ctx.box, `sign_request:${sr.sign_request_id}`, sr.card_elements_enc);
      await updateCardElements(trx, deps.ctx.box, sr.card_id, elements, now);
    }
    const agreement = await createMerchantAgreement(trx, { merchant_id: sr.merchant_id, user_ref: sr.user_ref, card_id: sr.card_id, sign_request_id: sr.sign_request_id, now });
    const updated = await trx
      .updateTable("sign_requests")
      .set({ status: "signed", agreement_id: agreement.agreement_id, updated_at: now })
      .where("sign_request_id", "=", sr.sign_request_id)
      .where("status", "=", "otp_sent")
      .$if(network === null, (q) => q.where("otp_attempts", "<", SIGNING_LIMITS.platform_otp_attempts_max))
      .returningAll()
      .executeTakeFirst();
    if (!updated && network === null) {
      // Signed meanwhile by the same code: a repeat. Anything else (the limit reached by parallel
      // wrong guesses, expired) makes nothing: the transaction is rolled back. (A bank's code is the
      // network's to count: its agreement exists there and is kept.)
      const current = await trx.selectFrom("sign_requests").select(["status"]).where("sign_request_id", "=", sr.sign_request_id).executeTakeFirstOrThrow();
      if (current.status !== "signed") throw new PaycoreError("otp_attempts_exceeded", "too many wrong codes; start signing again");
    }
    if (updated) await emitAgreementSigned(trx, agreement, now);
    return { agreement, sign_request: updated ?? { ...sr, status: "signed" as const, agreement_id: agreement.agreement_id }, created: updated !== undefined };
  });
}

/** `POST /v1/agreements/resend-otp`: at most once a minute, a bounded number of times. */
export async function resendOtp(deps: PaymentDeps, merchant: MerchantRow, sign_request_id: string): Promise<SignRequestRow> {
  const sr = await getSignRequest(deps.ctx.db, merchant.merchant_id, sign_request_id);
  if (sr.status !== "otp_sent") throw new PaycoreError("agreement_inactive", `this sign request is ${sr.status}; nothing to resend`);
  const now = deps.ctx.clock.now();
  if (now.getTime() - sr.last_otp_sent_at.getTime() < SIGNING_LIMITS.otp_resend_interval_ms) throw new PaycoreError("rate_limited", "a new code can be sent once a minute");
  if (sr.otp_sent_count >= SIGNING_LIMITS.otp_sends_max) throw new PaycoreError("rate_limited", `at most ${SIGNING_LIMITS.otp_sends_max} codes per sign request; start again`);
  if (sr.kind === "platform_otp") {
    const otp = String(randomInt(0, 1_000_000)).padStart(6, "0");
    const card = await deps.ctx.db.selectFrom("cards").selectAll().where("card_id", "=", sr.card_id).executeTakeFirstOrThrow();
    await deps.ctx.db
      .updateTable("sign_requests")
      .set({ otp_hash: otpHash(deps, sr.sign_request_id, otp), otp_expires_at: new Date(now.getTime() + SIGNING_LIMITS.platform_otp_ttl_ms), otp_attempts: 0, otp_sent_count: sr.otp_sent_count + 1, last_otp_sent_at: now, updated_at: now })
      .where("sign_request_id", "=", sr.sign_request_id)
      .execute();
    await sendPlatformOtp(deps, openElements(deps.ctx.box, card).phone, merchant.name, otp);
  } else {
    const result = await callChannel(deps, sr.channel_id!, (a) => a.resendOtp({ txn_id: newId("ntx", now.getTime()), sign_txn_id: sr.sign_txn_id! }));
    if (result.status === "failed") throw declineError(result.reason, result.message);
    if (result.status === "pending") throw new PaycoreError("channel_unavailable", "the network did not answer; try again in a minute");
    await deps.ctx.db.updateTable("sign_requests").set({ otp_sent_count: sr.otp_sent_count + 1, last_otp_sent_at: now, updated_at: now }).where("sign_request_id", "=", sr.sign_request_id).execute();
  }
  return deps.ctx.db.selectFrom("sign_requests").selectAll().where("sign_request_id", "=", sr.sign_request_id).executeTakeFirstOrThrow();
}
