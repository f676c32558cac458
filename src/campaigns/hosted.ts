import { confirmSigning, resendOtp } from "../agreements/confirm.ts";
import { CardWire, checkCard } from "../agreements/card-input.ts";
import { startSigning } from "../agreements/signing.ts";
import type { CampaignInvitationRow, MerchantRow, SignRequestRow } from "../db/index.ts";
import { PaycoreError } from "../kernel/errors.ts";
import { maskPhone } from "../kernel/mask.ts";
import { effectiveStatus } from "../merchants/index.ts";
import type { PaymentDeps } from "../payments/deps.ts";
import { emitAgreementSigned } from "../payments/effects.ts";
import type { HostedPage } from "./html.ts";
import { holderNameAad, phoneAad } from "./invitation-sms.ts";
import { CAMPAIGN_LIMITS } from "./limits.ts";
import { pageMessage } from "./messages.ts";
import { moveInvitation } from "./states.ts";
import { formToken, formTokenValid, isLinkTokenShape, linkTokenHash } from "./tokens.ts";

/**
 * The cardholder's side of a campaign, behind `/sign/{token}`: the only way a campaign makes an
 * agreement. The cardholder types the four elements (the phone is the invitee's, where the link
 * went) and then the code the bank — or paycore, for a merchant that wants its own confirmation —
 * texted to that phone. A card already signed on the platform, at a merchant that needs no
 * confirmation of its own, is signed once the cardholder has entered its elements here.
 */
interface Link {
  inv: CampaignInvitationRow;
  merchant: MerchantRow;
}

export type HostedForm = Record<string, string>;

const closed = (status: number, merchant_name: string | null, title: string, message: string): HostedPage => ({ kind: "closed", status, merchant_name, title, message });

const NOT_VALID = closed(404, null, "链接无效 · Link not valid", "该链接无效，可能已被更新的短信取代。This link is not valid; a newer SMS may have replaced it.");

/** `GET /sign/{token}`: the first visit marks the invitation opened. */
export async function openHostedPage(deps: PaymentDeps, token: string): Promise<HostedPage> {
  const link = await loadLink(deps, token);
  if (!("inv" in link)) return link;
  let inv = link.inv;
  if (inv.status === "invited") inv = (await moveInvitation(deps.ctx.db, inv, "opened", { opened_at: deps.ctx.clock.now() }, deps.ctx.clock.now())) ?? inv;
  return currentStep(deps, { inv, merchant: link.merchant }, null, 200);
}

/** `POST /sign/{token}`: the card form, the code form, or a new code. */
export async function submitHostedPage(deps: PaymentDeps, token: string, form: HostedForm): Promise<HostedPage> {
  const link = await loadLink(deps, token);
  if (!("inv" in link)) return link;
  switch (form.action) {
    case "card":
      return submitCard(deps, link, form);
    case "code":
      return submitCode(deps, link, form);
    case "resend":
      return submitResend(deps, link, form);
    default:
      return currentStep(deps, link, "请使用页面上的表单。Please use the form on this page.", 400);
  }
}

async function loadLink(deps: PaymentDeps, token: string): Promise<Link | HostedPage> {
  if (!isLinkTokenShape(token)) return NOT_VALID;
  const db = deps.ctx.db;
  let inv = await db.selectFrom("campaign_invitations").selectAll().where("token_hash", "=", linkTokenHash(deps.ctx.box, token)).executeTakeFirst();
  if (!inv) return NOT_VALID;
  const merchant = await db.selectFrom("merchants").selectAll().where("merchant_id", "=", inv.merchant_id).executeTakeFirstOrThrow();
  const now = deps.ctx.clock.now();
  if ((inv.status === "invited" || inv.status === "opened") && now >= inv.expires_at) {
    inv = (await moveInvitation(db, inv, "expired", { failure_code: "link_expired" }, now)) ?? (await db.selectFrom("campaign_invitations").selectAll().where("invitation_id", "=", inv.invitation_id).executeTakeFirstOrThrow());
  }
  switch (inv.status) {
    case "signed":
      return signedPage(deps, merchant, inv.agreement_id!);
    case "expired":
      return closed(410, merchant.name, "链接已过期 · Link expired", `该邀请链接已过期，如需签约请联系${merchant.name}重新邀请。This invitation link has expired; ask ${merchant.name} for a new one.`);
    case "failed":
      return closed(410, merchant.name, "邀请已失效 · Invitation closed", "尝试次数过多，该邀请已失效。Too many attempts: this invitation can no longer be used.");
    case "invited":
    case "opened":
      break;
  }
  if ((await effectiveStatus(db, merchant)) !== "active") {
    return closed(403, merchant.name, "暂不可用 · Not available", "该商户目前无法办理签约。This merchant cannot take card signings at the moment.");
  }
  return { inv, merchant };
}

async function signedPage(deps: PaymentDeps, merchant: MerchantRow, agreement_id: string): Promise<HostedPage> {
  const card = await deps.ctx.db
    .selectFrom("agreements")
    .innerJoin("cards", "cards.card_id", "agreements.card_id")
    .select(["cards.bank_name", "cards.last4"])
    .where("agreements.agreement_id", "=", agreement_id)
    .executeTakeFirstOrThrow();
  return { kind: "signed", status: 200, merchant_name: merchant.name, bank_name: card.bank_name, last4: card.last4 };
}

/** The code form while the invitation's sign request waits for its code; the card form otherwise. */
async function currentStep(deps: PaymentDeps, link: Link, message: string | null, status: number): Promise<HostedPage> {
  const sr = await pendingSignRequest(deps, link.inv);
  if (sr) return codeForm(deps, link, sr, message, status);
  return cardForm(deps, link, message, status);
}

async function pendingSignRequest(deps: PaymentDeps, inv: CampaignInvitationRow): Promise<SignRequestRow | null> {
  if (!inv.sign_request_id) return null;
  const sr = await deps.ctx.db.selectFrom("sign_requests").selectAll().where("sign_request_id", "=", inv.sign_request_id).executeTakeFirst();
  return sr && sr.status === "otp_sent" && deps.ctx.clock.now() < sr.expires_at ? sr : null;
}

function phoneOf(deps: PaymentDeps, inv: CampaignInvitationRow): string {
  return deps.ctx.box.open(inv.phone_enc, phoneAad(inv.invitation_id));
}

function cardForm(deps: PaymentDeps, link: Link, message: string | null, status: number): HostedPage {
  const { inv, merchant } = link;
  return {
    kind: "card",
    status,
    merchant_name: merchant.name,
    holder_name: deps.ctx.box.open(inv.holder_name_enc, holderNameAad(inv.invitation_id)),
    phone_masked: maskPhone(phoneOf(deps, inv)),
    form_token: formToken(deps.ctx.box, inv.invitation_id, "card", String(inv.sign_attempts)),
    message,
    attempts_left: Math.max(0, CAMPAIGN_LIMITS.sign_attempts_max - inv.sign_attempts),
  };
}

function codeForm(deps: PaymentDeps, link: Link, sr: SignRequestRow, message: string | null, status: number): HostedPage {
  return {
    kind: "code",
    status,
    merchant_name: link.merchant.name,
    phone_masked: maskPhone(phoneOf(deps, link.inv)),
    form_token: formToken(deps.ctx.box, link.inv.invitation_id, "code", sr.sign_request_id),
    message,
  };
}

const STALE = "页面已过期，请按当前页面重新操作。This form is out of date; please continue on the page below.";

async function submitCard(deps: PaymentDeps, link: Link, form: HostedForm): Promise<HostedPage> {
  const { inv } = link;
  if (!formTokenValid(deps.ctx.box, inv.invitation_id, "card", String(inv.sign_attempts), form.form_token ?? "")) return currentStep(deps, link, STALE, 409);
  const parsed = CardWire.safeParse({
    holder_name: form.holder_name ?? "",
    id_type: "resident_id",
    id_number: form.id_number ?? "",
    card_number: (form.card_number ?? "").replace(/\s+/g, ""),
    phone: phoneOf(deps, inv),
    ...(form.cvn2 ? { cvn2: form.cvn2 } : {}),
    ...(form.expiry ? { expiry: form.expiry } : {}),
  });
  if (!parsed.success) return cardForm(deps, link, pageMessage(new PaycoreError("invalid_request", "form", `card.${String(parsed.error.issues[0]?.path[0] ?? "")}`)), 400);
  try {
    checkCard(parsed.data, deps.ctx.clock.now());
  } catch (err) {
    // Checked here first, so a typo does not use up one of the invitation's attempts.
    if (err instanceof PaycoreError) return cardForm(deps, link, pageMessage(err), 400);
    throw err;
  }
  const claimed = await claimAttempt(deps, inv);
  if (!claimed) return currentStep(deps, link, STALE, 409);
  return startCampaignSigning(deps, { inv: claimed, merchant: link.merchant }, parsed.data);
}

/** One more attempt, if the page is still where this form left it (double submits lose). */
async function claimAttempt(deps: PaymentDeps, inv: CampaignInvitationRow): Promise<CampaignInvitationRow | null> {
  const now = deps.ctx.clock.now();
  const row = await deps.ctx.db
    .updateTable("campaign_invitations")
    .set({ sign_attempts: inv.sign_attempts + 1, sign_request_id: null, updated_at: now })
    .where("invitation_id", "=", inv.invitation_id)
    .where("sign_attempts", "=", inv.sign_attempts)
    .where("status", "=", "opened")
    .returningAll()
    .executeTakeFirst();
  return row ?? null;
}

async function startCampaignSigning(deps: PaymentDeps, link: Link, card: Parameters<typeof checkCard>[0]): Promise<HostedPage> {
  const { inv, merchant } = link;
  let answer;
  try {
    answer = await startSigning(deps, merchant, { out_request_no: `campaign-${inv.invitation_id}-${inv.sign_attempts}`, user_ref: inv.user_ref, card, purpose: "campaign" });
  } catch (err) {
    if (!(err instanceof PaycoreError)) throw err;
    return afterFailedAttempt(deps, link, pageMessage(err), err.httpStatus);
  }
  if (answer.sign_request.kind === "reuse") return markSigned(deps, link, answer.sign_request.agreement_id!, true);
  const now = deps.ctx.clock.now();
  const updated = await deps.ctx.db
    .updateTable("campaign_invitations")
    .set({ sign_request_id: answer.sign_request.sign_request_id, updated_at: now })
    .where("invitation_id", "=", inv.invitation_id)
    .where("sign_attempts", "=", inv.sign_attempts)
    .returningAll()
    .executeTakeFirst();
  return codeForm(deps, { inv: updated ?? inv, merchant }, answer.sign_request, null, 200);
}

/** The invitation fails once its attempts are used up; otherwise the card form again. */
async function afterFailedAttempt(deps: PaymentDeps, link: Link, message: string, status: number): Promise<HostedPage> {
  const inv = await deps.ctx.db.selectFrom("campaign_invitations").selectAll().where("invitation_id", "=", link.inv.invitation_id).executeTakeFirstOrThrow();
  if (inv.status === "opened" && inv.sign_attempts >= CAMPAIGN_LIMITS.sign_attempts_max) {
    await moveInvitation(deps.ctx.db, inv, "failed", { failure_code: "sign_attempts_exceeded" }, deps.ctx.clock.now());
    return closed(422, link.merchant.name, "邀请已失效 · Invitation closed", `${message} 尝试次数已用完。No attempts are left for this invitation.`);
  }
  return cardForm(deps, { inv, merchant: link.merchant }, message, status);
}

/** invitation → signed; a reuse (no code) also tells the merchant with `agreement.signed`. */
async function markSigned(deps: PaymentDeps, link: Link, agreement_id: string, emit: boolean): Promise<HostedPage> {
  const now = deps.ctx.clock.now();
  await deps.ctx.db.transaction().execute(async (trx) => {
    const moved = await moveInvitation(trx, link.inv, "signed", { agreement_id, signed_at: now }, now);
    if (moved && emit) await emitAgreementSigned(trx, await trx.selectFrom("agreements").selectAll().where("agreement_id", "=", agreement_id).executeTakeFirstOrThrow(), now);
  });
  return signedPage(deps, link.merchant, agreement_id);
}

async function submitCode(deps: PaymentDeps, link: Link, form: HostedForm): Promise<HostedPage> {
  const sr = await pendingSignRequest(deps, link.inv);
  const given = form.form_token ?? "";
  if (!sr && link.inv.sign_request_id && formTokenValid(deps.ctx.box, link.inv.invitation_id, "code", link.inv.sign_request_id, given)) {
    // The sign request ran out of time (or failed) while the page waited for its code.
    return afterFailedAttempt(deps, link, "验证码已失效，请重新填写银行卡信息。The code is no longer valid; enter your card again.", 422);
  }
  if (!sr || !formTokenValid(deps.ctx.box, link.inv.invitation_id, "code", sr.sign_request_id, given)) return currentStep(deps, link, STALE, 409);
  const otp = (form.otp ?? "").trim();
  if (!/^\d{4,8}$/.test(otp)) return codeForm(deps, link, sr, "请输入短信中的数字验证码。Enter the digits from the SMS.", 400);
  try {
    const confirmed = await confirmSigning(deps, link.merchant, sr.sign_request_id, otp);
    return markSigned(deps, link, confirmed.agreement.agreement_id, false);
  } catch (err) {
    if (!(err instanceof PaycoreError)) throw err;
    if (await pendingSignRequest(deps, link.inv)) return codeForm(deps, link, sr, pageMessage(err), err.httpStatus);
    return afterFailedAttempt(deps, link, pageMessage(err), err.httpStatus);
  }
}

async function submitResend(deps: PaymentDeps, link: Link, form: HostedForm): Promise<HostedPage> {
  const sr = await pendingSignRequest(deps, link.inv);
  if (!sr || !formTokenValid(deps.ctx.box, link.inv.invitation_id, "code", sr.sign_request_id, form.form_token ?? "")) return currentStep(deps, link, STALE, 409);
  try {
    await resendOtp(deps, link.merchant, sr.sign_request_id);
    return codeForm(deps, link, sr, "新的验证码已发送。A new code was sent.", 200);
  } catch (err) {
    if (!(err instanceof PaycoreError)) throw err;
    return currentStep(deps, link, pageMessage(err), err.httpStatus);
  }
}
