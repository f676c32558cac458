import { randomInt } from "node:crypto";
import type { Kysely } from "kysely";
import type { AgreementRow, CardAgreementRow, CardRow, Database, SignRequestRow } from "../db/index.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { PaycoreError, invalidRequest, notFound } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import { maskPhone } from "../kernel/mask.ts";
import type { MerchantRow } from "../db/index.ts";
import { callChannel, type PaymentDeps } from "../payments/deps.ts";
import { routePayment, routeSigning } from "../routing/index.ts";
import { checkCard, type CardWireInput, type CheckedCard } from "./card-input.ts";
import { createMerchantAgreement, activeCardAgreements } from "./store.ts";
import { findOrAddCard, openElements, openSealedElements, sameElements, sealElements } from "./vault.ts";
import { canonicalJson } from "../kernel/canonical-json.ts";
import { emitAgreementSigned } from "../payments/effects.ts";
import type { FailureReason } from "../channels/types.ts";
import { screenSigning } from "../risk/index.ts";

const TYPICAL_AMOUNT_FEN = 10_000n;

/** Signing rules with their named limits (docs/domain.md: an SMS code lives minutes, resend once a minute). */
export const SIGNING_LIMITS = {
  platform_otp_ttl_ms: 5 * 60_000,
  platform_otp_attempts_max: 5,
  otp_resend_interval_ms: 60_000,
  otp_sends_max: 5,
  sign_request_ttl_ms: 30 * 60_000,
} as const;

export interface SignStartAnswer {
  status: 200 | 201;
  sign_request: SignRequestRow;
  agreement_id: string | null;
  otp_sent_to: string | null;
  warnings: string[];
}

export interface StartSigningInput {
  out_request_no: string;
  user_ref: string;
  card: CardWireInput;
  purpose: SignRequestRow["purpose"];
  /** For sign-and-pay: the payment to make once signed. */
  payment_request?: unknown;
}

export function requestFingerprint(deps: PaymentDeps, value: unknown): string {
  return deps.ctx.box.fingerprint("request", canonicalJson(value));
}

/**
 * `POST /v1/agreements`: the bank-level card agreement is reused across the platform (no second
 * bank SMS), but the merchant-level agreement needs the cardholder's consent to this merchant ID:
 * silent (`already_signed`) within the entity that already holds the card or at an admin-trusted
 * merchant ID, otherwise paycore's own code to the reserved phone (`otp_sent`; nothing is created
 * until it is confirmed). A credit card whose first signing checked CVN2/expiry goes to the bank
 * again. A card not signed yet gets the bank's code through the cheapest usable network.
 */
export async function startSigning(deps: PaymentDeps, merchant: MerchantRow, input: StartSigningInput): Promise<SignStartAnswer> {
  const now = deps.ctx.clock.now();
  const checked = checkCard(input.card, now);
  // CVN2 and expiry stay out of every stored value, even keyed hashes.
  const { cvn2: _cvn2, expiry: _expiry, ...card_fields } = input.card;
  const request_hash = requestFingerprint(deps, { purpose: input.purpose, user_ref: input.user_ref, card: card_fields, payment: input.payment_request ?? null });
  const existing = await findByOutRequestNo(deps.ctx.db, merchant.merchant_id, input.out_request_no);
  if (existing) return repeatAnswer(deps, existing, request_hash, checked.warnings);
  return startNew(deps, merchant, input, request_hash, checked).catch(async (err: unknown) => {
    // A concurrent request with the same out_request_no recorded its sign request first (the
    // unique key): this one is a repeat of it, answered as such and never a 500.
    if (!isUniqueViolation(err, "sign_requests_merchant_id_out_request_no_key")) throw err;
    const other = await findByOutRequestNo(deps.ctx.db, merchant.merchant_id, input.out_request_no);
    if (!other) throw err;
    return repeatAnswer(deps, other, request_hash, checked.warnings);
  });
}

async function startNew(deps: PaymentDeps, merchant: MerchantRow, input: StartSigningInput, request_hash: string, checked: CheckedCard): Promise<SignStartAnswer> {
  const now = deps.ctx.clock.now();
  const card = await findOrAddCard(deps.ctx.db, deps.ctx.box, checked, now);
  await screenSigning(deps.ctx, { merchant_id: merchant.merchant_id, card, phone: checked.elements.phone, out_request_no: input.out_request_no });
  // Reuse needs a card agreement paycore can pay with now (directly or by sign sync) and the
  // same elements the bank verified; otherwise the bank signs again (a channel switch re-sign).
  const held = await activeCardAgreements(deps.ctx.db, card.card_id);
  const route = routePayment(await deps.channels.views(), { bank_code: card.bank_code, bank_unified: checked.bank.unified_registries, agreements: held }, TYPICAL_AMOUNT_FEN);
  const verified_before = (route.kind === "use" || route.kind === "sync") && sameElements(deps.ctx.box, card, checked.elements);
  if (verified_before) {
    const mine = await deps.ctx.db.selectFrom("agreements").selectAll().where("merchant_id", "=", merchant.merchant_id).where("card_id", "=", card.card_id).where("status", "=", "active").executeTakeFirst();
    if (mine) return reuse(deps, merchant, input, request_hash, card, checked, mine);
    // paycore never keeps CVN2 or expiry, so it cannot check them itself: the bank checks them again.
    if (card.card_type === "credit" && bankCheckedCardSecrets(held)) return bankOtp(deps, merchant, input, request_hash, card, checked);
    if (!merchant.require_own_confirmation && (await silentReuseAllowed(deps.ctx.db, merchant, card.card_id))) {
      return reuse(deps, merchant, input, request_hash, card, checked, null);
    }
    return platformOtp(deps, merchant, input, request_hash, card, checked);
  }
  return bankOtp(deps, merchant, input, request_hash, card, checked);
}

/**
 * Whether a network checked the card's CVN2 or expiry when it was signed (bitmap name, id, card,
 * phone, cvn2, expiry). Unknown (a synced or query-confirmed agreement) counts as checked.
 */
function bankCheckedCardSecrets(card_agreements: readonly CardAgreementRow[]): boolean {
  return card_agreements.some((a) => a.verified_elements === null || a.verified_elements[4] === "1" || a.verified_elements[5] === "1");
}

/**
 * The cardholder consented to an entity, not to the platform: reuse stays silent within the
 * entity that holds an agreement for the card (the group's own merchant IDs), or at a merchant ID
 * an admin marked trusted for silent reuse. Any other merchant ID needs the cardholder's code.
 */
async function silentReuseAllowed(db: Kysely<Database>, merchant: MerchantRow, card_id: string): Promise<boolean> {
  if (merchant.trusted_for_silent_reuse) return true;
  const same_entity = await db
    .selectFrom("agreements")
    .innerJoin("merchants", "merchants.merchant_id", "agreements.merchant_id")
    .select("agreements.agreement_id")
    .where("agreements.card_id", "=", card_id)
    .where("agreements.status", "=", "active")
    .where("merchants.entity_id", "=", merchant.entity_id)
    .limit(1)
    .executeTakeFirst();
  return same_entity !== undefined;
}

async function findByOutRequestNo(db: Kysely<Database>, merchant_id: string, out_request_no: string) {
  return db.selectFrom("sign_requests").selectAll().where("merchant_id", "=", merchant_id).where("out_request_no", "=", out_request_no).executeTakeFirst();
}

/** The same out_request_no again: the same parameters find the request, others are refused. */
async function repeatAnswer(deps: PaymentDeps, existing: SignRequestRow, request_hash: string, warnings: string[]): Promise<SignStartAnswer> {
  if (existing.request_hash !== request_hash) {
    throw new PaycoreError("duplicate_out_trade_no", "out_request_no was already used with other parameters");
  }
  if (existing.status === "applying" && existing.kind === "bank_otp") return applyAtBank(deps, existing, warnings);
  return { status: 200, sign_request: existing, agreement_id: existing.kind === "reuse" ? existing.agreement_id : null, otp_sent_to: null, warnings };
}

function baseRow(deps: PaymentDeps, merchant: MerchantRow, input: StartSigningInput, request_hash: string, card: CardRow, checked: CheckedCard, now: Date) {
  const sign_request_id = newId("sgr", now.getTime());
  return {
    sign_request_id,
    merchant_id: merchant.merchant_id,
    out_request_no: input.out_request_no,
    request_hash,
    user_ref: input.user_ref,
    card_id: card.card_id,
    card_elements_enc: sealElements(deps.ctx.box, `sign_request:${sign_request_id}`, checked.elements),
    purpose: input.purpose,
    channel_id: null,
    sign_txn_id: null,
    otp_hash: null,
    otp_expires_at: null,
    otp_attempts: 0,
    otp_sent_count: 0,
    last_otp_sent_at: now,
    failure_code: null,
    agreement_id: null,
    payment_request: input.payment_request === undefined ? null : JSON.stringify(input.payment_request),
    payment_id: null,
    expires_at: new Date(now.getTime() + SIGNING_LIMITS.sign_request_ttl_ms),
    created_at: now,
    updated_at: now,
  };
}

async function reuse(deps: PaymentDeps, merchant: MerchantRow, input: StartSigningInput, request_hash: string, card: CardRow, checked: CheckedCard, held: AgreementRow | null): Promise<SignStartAnswer> {
  const now = deps.ctx.clock.now();
  const row = { ...baseRow(deps, merchant, input, request_hash, card, checked, now), kind: "reuse" as const, status: "signed" as const };
  const sign_request = await deps.ctx.db.transaction().execute(async (trx) => {
    const agreement = held ?? (await createMerchantAgreement(trx, { merchant_id: merchant.merchant_id, user_ref: input.user_ref, card_id: card.card_id, sign_request_id: row.sign_request_id, now }));
    if (!held) await emitAgreementSigned(trx, agreement, now);
    const full = { ...row, agreement_id: agreement.agreement_id };
    await trx.insertInto("sign_requests").values(full).execute();
    return full as SignRequestRow;
  });
  return { status: 201, sign_request, agreement_id: sign_request.agreement_id, otp_sent_to: null, warnings: checked.warnings };
}

export function otpHash(deps: PaymentDeps, sign_request_id: string, otp: string): string {
  return deps.ctx.box.fingerprint("otp", `${sign_request_id}:${otp}`);
}

async function platformOtp(deps: PaymentDeps, merchant: MerchantRow, input: StartSigningInput, request_hash: string, card: CardRow, checked: CheckedCard): Promise<SignStartAnswer> {
  const now = deps.ctx.clock.now();
  const base = baseRow(deps, merchant, input, request_hash, card, checked, now);
  const otp = String(randomInt(0, 1_000_000)).padStart(6, "0");
  const row = {
    ...base,
    kind: "platform_otp" as const,
    status: "otp_sent" as const,
    otp_hash: otpHash(deps, base.sign_request_id, otp),
    otp_expires_at: new Date(now.getTime() + SIGNING_LIMITS.platform_otp_ttl_ms),
    otp_sent_count: 1,
  };
  await deps.ctx.db.insertInto("sign_requests").values(row).execute();
  const phone = openElements(deps.ctx.box, card).phone;
  await sendPlatformOtp(deps, phone, merchant.name, otp);
  return { status: 201, sign_request: row as SignRequestRow, agreement_id: null, otp_sent_to: maskPhone(phone), warnings: checked.warnings };
}

export async function sendPlatformOtp(deps: PaymentDeps, phone: string, merchant_name: string, otp: string): Promise<void> {
  const minutes = SIGNING_LIMITS.platform_otp_ttl_ms / 60_000;
  await deps.sms.send(phone, `【paycore】您正在${merchant_name}使用已绑定的银行卡，验证码：${otp}，${minutes}分钟内有效。如非本人操作请忽略。`);
}

async function bankOtp(deps: PaymentDeps, merchant: MerchantRow, input: StartSigningInput, request_hash: string, card: CardRow, checked: CheckedCard): Promise<SignStartAnswer> {
  const now = deps.ctx.clock.now();
  const route = routeSigning(await deps.channels.views(), checked.bank.bank_code);
  if (route.kind === "unavailable") throw new PaycoreError("channel_unavailable", route.reason);
  const row = {
    ...baseRow(deps, merchant, input, request_hash, card, checked, now),
    kind: "bank_otp" as const,
    status: "applying" as const,
    channel_id: route.channel_id,
    sign_txn_id: newId("ntx", now.getTime()),
  };
  // Recorded before the network call: a retry with the same out_request_no finds it.
  await deps.ctx.db.insertInto("sign_requests").values(row).execute();
  return applyAtBank(deps, row as SignRequestRow, checked.warnings, checked);
}

/** Sign apply at the network (idempotent on the sign txn id): the bank checks the elements and sends its SMS. */
async function applyAtBank(deps: PaymentDeps, sr: SignRequestRow, warnings: string[], checked?: CheckedCard): Promise<SignStartAnswer> {
  const elements = checked?.elements ?? openSealedElements(deps.ctx.box, `sign_request:${sr.sign_request_id}`, sr.card_elements_enc);
  if (!checked && (await deps.ctx.db.selectFrom("cards").select("card_type").where("card_id", "=", sr.card_id).executeTakeFirstOrThrow()).card_type === "credit") {
    // CVN2 and expiry are never stored: an unanswered credit-card sign apply needs a new request.
    throw new PaycoreError("channel_unavailable", "the network did not answer the first attempt; start again with a new out_request_no");
  }
  const result = await callChannel(deps, sr.channel_id!, (a) =>
    a.signApply({ txn_id: sr.sign_txn_id!, card: { ...elements, id_type: "resident_id", cvn2: checked?.cvn2 ?? null, expiry: checked?.expiry ?? null } }),
  );
  const now = deps.ctx.clock.now();
  switch (result.status) {
    case "succeeded": {
      const updated = await deps.ctx.db
        .updateTable("sign_requests")
        .set({ status: "otp_sent", otp_sent_count: 1, last_otp_sent_at: now, updated_at: now })
        .where("sign_request_id", "=", sr.sign_request_id)
        .where("status", "=", "applying")
        .returningAll()
        .executeTakeFirst();
      return { status: 201, sign_request: updated ?? sr, agreement_id: null, otp_sent_to: result.phone_masked, warnings };
    }
    case "failed":
      await deps.ctx.db.updateTable("sign_requests").set({ status: "failed", failure_code: result.reason, updated_at: now }).where("sign_request_id", "=", sr.sign_request_id).execute();
      throw declineError(result.reason, result.message);
    case "pending":
      throw new PaycoreError("channel_unavailable", "the network did not answer; retry with the same out_request_no");
  }
}

/** A bank's refusal at signing, as an answer that names what to fix. */
export function declineError(reason: FailureReason, message: string): PaycoreError {
  const field: Partial<Record<FailureReason, string>> = {
    name_mismatch: "card.holder_name",
    id_mismatch: "card.id_number",
    phone_mismatch: "card.phone",
    cvn2_mismatch: "card.cvn2",
    expiry_mismatch: "card.expiry",
    credit_elements_required: "card.cvn2",
    card_not_found: "card.card_number",
    card_frozen: "card.card_number",
    card_lost: "card.card_number",
  };
  const f = field[reason];
  if (f) return invalidRequest(f, `the bank declined: ${reason.replace(/_/g, " ")}`);
  switch (reason) {
    case "otp_invalid":
      return new PaycoreError("otp_invalid", "the code is wrong");
    case "otp_expired":
      return new PaycoreError("otp_expired", "the code has expired; ask for a new one");
    case "otp_attempts_exceeded":
      return new PaycoreError("otp_attempts_exceeded", "too many wrong codes; start signing again");
    case "otp_resend_too_soon":
    case "otp_resend_limit":
      return new PaycoreError("rate_limited", `no new code yet: ${reason.replace(/_/g, " ")}`);
    default:
      return new PaycoreError("risk_rejected", `the bank or network declined signing: ${reason} (${message.slice(0, 120)})`);
  }
}

export async function getSignRequest(db: Kysely<Database>, merchant_id: string, sign_request_id: string): Promise<SignRequestRow> {
  const row = await db.selectFrom("sign_requests").selectAll().where("sign_request_id", "=", sign_request_id).where("merchant_id", "=", merchant_id).executeTakeFirst();
  if (!row) throw notFound("sign request");
  return row;
}
