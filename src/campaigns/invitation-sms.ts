import type { AgreementCampaignRow, CampaignInvitationRow } from "../db/index.ts";
import type { PaymentDeps } from "../payments/deps.ts";
import { CAMPAIGN_LIMITS } from "./limits.ts";
import { moveInvitation } from "./states.ts";
import { linkTokenHash, newLinkToken } from "./tokens.ts";

/**
 * Invitation SMS: sent after the campaign is committed, never inside a transaction. Each send is
 * claimed first (a conditional update), so two senders never text the same invitee for the same
 * attempt. Only the token's hash is stored, so a retry mints a new token (the link in an SMS
 * that never arrived is worthless anyway); after `sms_attempts_max` the invitation fails.
 */
export interface InvitationSend {
  invitation_id: string;
  token: string;
  /** The attempt number this send claims (1 for the first). */
  attempt: number;
}

export function phoneAad(invitation_id: string): string {
  return `campaign_invitation:${invitation_id}:phone`;
}

export function holderNameAad(invitation_id: string): string {
  return `campaign_invitation:${invitation_id}:holder_name`;
}

export function signLink(base_url: string, token: string): string {
  return `${base_url}/sign/${token}`;
}

export function invitationText(merchant_name: string, link: string, ttl_hours: number): string {
  const name = merchant_name.slice(0, CAMPAIGN_LIMITS.merchant_name_in_sms_chars_max);
  const ttl = ttl_hours % 24 === 0 ? `${ttl_hours / 24}天` : `${ttl_hours}小时`;
  return `【paycore】${name}邀请您开通快捷支付。请在${ttl}内打开 ${link} ，由您本人填写银行卡信息并输入银行短信验证码完成签约。不签约请忽略本短信，您的卡不会被绑定。`;
}

/** Sends claimed invitations with bounded concurrency, within an optional wall-clock budget. */
export async function sendInvitationSms(deps: PaymentDeps, campaign: AgreementCampaignRow, sends: readonly InvitationSend[], budget_ms?: number): Promise<void> {
  if (sends.length === 0) return;
  const merchant = await deps.ctx.db.selectFrom("merchants").select("name").where("merchant_id", "=", campaign.merchant_id).executeTakeFirstOrThrow();
  const started_ms = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < sends.length) {
      // Past the budget the rest stay pending with their lease: the retry pass picks them up.
      if (budget_ms !== undefined && Date.now() - started_ms > budget_ms) return;
      const send = sends[next++]!;
      await sendOne(deps, campaign, merchant.name, send);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CAMPAIGN_LIMITS.sms_concurrency_max, sends.length) }, worker));
}

async function sendOne(deps: PaymentDeps, campaign: AgreementCampaignRow, merchant_name: string, send: InvitationSend): Promise<void> {
  const db = deps.ctx.db;
  const inv = await db.selectFrom("campaign_invitations").selectAll().where("invitation_id", "=", send.invitation_id).executeTakeFirstOrThrow();
  const phone = deps.ctx.box.open(inv.phone_enc, phoneAad(inv.invitation_id));
  let error: string | null = null;
  try {
    await deps.sms.send(phone, invitationText(merchant_name, signLink(campaign.public_base_url, send.token), campaign.link_ttl_hours));
  } catch (err) {
    error = (err instanceof Error ? err.message : String(err)).slice(0, CAMPAIGN_LIMITS.sms_error_chars_max);
  }
  await recordSendOutcome(deps, inv, send.attempt, error);
}

async function recordSendOutcome(deps: PaymentDeps, inv: CampaignInvitationRow, attempt: number, error: string | null): Promise<void> {
  const now = deps.ctx.clock.now();
  const mine = deps.ctx.db.updateTable("campaign_invitations").where("invitation_id", "=", inv.invitation_id).where("sms_attempts", "=", attempt).where("sms_status", "=", "pending");
  if (error === null) {
    await mine.set({ sms_status: "sent", sms_next_at: null, sms_error: null, updated_at: now }).execute();
    return;
  }
  deps.ctx.log.warn({ invitation_id: inv.invitation_id, attempt, error }, "campaign invitation SMS failed");
  if (attempt < CAMPAIGN_LIMITS.sms_attempts_max) {
    const wait_ms = CAMPAIGN_LIMITS.sms_retry_backoff_ms[Math.min(attempt, CAMPAIGN_LIMITS.sms_retry_backoff_ms.length) - 1]!;
    await mine.set({ sms_next_at: new Date(now.getTime() + wait_ms), sms_error: error, updated_at: now }).execute();
    return;
  }
  await giveUp(deps, inv.invitation_id, attempt, error, now);
}

async function giveUp(deps: PaymentDeps, invitation_id: string, attempt: number, error: string, now: Date): Promise<void> {
  const gave_up = await deps.ctx.db
    .updateTable("campaign_invitations")
    .set({ sms_status: "failed", sms_next_at: null, sms_error: error, updated_at: now })
    .where("invitation_id", "=", invitation_id)
    .where("sms_attempts", "=", attempt)
    .where("sms_status", "=", "pending")
    .returningAll()
    .executeTakeFirst();
  if (gave_up?.status === "invited") await moveInvitation(deps.ctx.db, gave_up, "failed", { failure_code: "sms_undeliverable" }, now);
}

/**
 * Claims invitations whose SMS is due again (a failed send, or a first send a crash or the
 * inline budget left behind) and sends them, a bounded batch per call; `campaign_id` narrows it.
 * Answers how many were claimed.
 */
export async function retryDueInvitationSms(deps: PaymentDeps, options: { campaign_id?: string; limit?: number } = {}): Promise<number> {
  const now = deps.ctx.clock.now();
  const limit = Math.min(options.limit ?? CAMPAIGN_LIMITS.sms_retry_batch_max, CAMPAIGN_LIMITS.sms_retry_batch_max);
  let q = deps.ctx.db
    .selectFrom("campaign_invitations")
    .select(["invitation_id", "campaign_id", "sms_attempts"])
    .where("sms_status", "=", "pending")
    .where("status", "=", "invited")
    .where("sms_next_at", "<=", now)
    .where("expires_at", ">", now)
    .orderBy("sms_next_at")
    .limit(limit);
  if (options.campaign_id) q = q.where("campaign_id", "=", options.campaign_id);
  const due = await q.execute();
  const by_campaign = new Map<string, InvitationSend[]>();
  for (const row of due) {
    if (row.sms_attempts >= CAMPAIGN_LIMITS.sms_attempts_max) {
      // Its last send was claimed but never recorded (a crash): give up as after a failure.
      await giveUp(deps, row.invitation_id, row.sms_attempts, "no outcome recorded for the last send", now);
      continue;
    }
    const send = await claimRetry(deps, row, now);
    if (send) by_campaign.set(row.campaign_id, [...(by_campaign.get(row.campaign_id) ?? []), send]);
  }
  for (const [campaign_id, sends] of by_campaign) {
    const campaign = await deps.ctx.db.selectFrom("agreement_campaigns").selectAll().where("campaign_id", "=", campaign_id).executeTakeFirstOrThrow();
    await sendInvitationSms(deps, campaign, sends);
  }
  return [...by_campaign.values()].reduce((n, s) => n + s.length, 0);
}

/** A retry mints a new token: only its hash is stored, and the old link (if any) stops working. */
async function claimRetry(deps: PaymentDeps, row: { invitation_id: string; sms_attempts: number }, now: Date): Promise<InvitationSend | null> {
  const token = newLinkToken();
  const attempt = row.sms_attempts + 1;
  const claimed = await deps.ctx.db
    .updateTable("campaign_invitations")
    .set({ token_hash: linkTokenHash(deps.ctx.box, token), sms_attempts: attempt, sms_next_at: new Date(now.getTime() + CAMPAIGN_LIMITS.sms_claim_lease_ms), updated_at: now })
    .where("invitation_id", "=", row.invitation_id)
    .where("sms_attempts", "=", row.sms_attempts)
    .where("sms_status", "=", "pending")
    .where("status", "=", "invited")
    .executeTakeFirst();
  return Number(claimed.numUpdatedRows) === 1 ? { invitation_id: row.invitation_id, token, attempt } : null;
}
