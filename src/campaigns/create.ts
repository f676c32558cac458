import type { Kysely } from "kysely";
import type { AgreementCampaignRow, CampaignInvitationRow, Database, MerchantRow } from "../db/index.ts";
import { canonicalJson } from "../kernel/canonical-json.ts";
import { PaycoreError } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import type { PaymentDeps } from "../payments/deps.ts";
import { CAMPAIGN_LIMITS } from "./limits.ts";
import { holderNameAad, phoneAad, sendInvitationSms, type InvitationSend } from "./invitation-sms.ts";
import { linkTokenHash, newLinkToken } from "./tokens.ts";
import type { CampaignCreateInput } from "./wire.ts";

/**
 * `POST /v1/agreement-campaigns`: records the campaign and one invitation per invitee (a name and
 * a phone, sealed; no card data), then, after the commit, texts each invitee a link to the hosted
 * signing page. Creating a campaign signs nothing and sends no bank code.
 */
export interface CampaignCreated {
  status: 200 | 201;
  campaign: AgreementCampaignRow;
}

export interface CampaignOptions {
  public_base_url: string;
  link_ttl_hours_default: number;
}

export async function createCampaign(deps: PaymentDeps, merchant: MerchantRow, input: CampaignCreateInput, options: CampaignOptions): Promise<CampaignCreated> {
  const db = deps.ctx.db;
  const request_hash = deps.ctx.box.fingerprint("campaign_request", canonicalJson({ invitations: input.invitations, link_ttl_hours: input.link_ttl_hours ?? null }));
  const existing = await findCampaign(db, merchant.merchant_id, input.out_campaign_no);
  if (existing) return repeat(existing, request_hash);
  const now = deps.ctx.clock.now();
  await assertDailyInvitationLimit(db, merchant.merchant_id, input.invitations.length, now);
  const built = buildRows(deps, merchant, input, request_hash, options, now);
  try {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto("agreement_campaigns").values(built.campaign).execute();
      for (let i = 0; i < built.invitations.length; i += CAMPAIGN_LIMITS.insert_batch_rows_max) {
        await trx.insertInto("campaign_invitations").values(built.invitations.slice(i, i + CAMPAIGN_LIMITS.insert_batch_rows_max)).execute();
      }
    });
  } catch (err) {
    // A concurrent request with the same out_campaign_no committed first: answer as a repeat.
    if (!isUniqueViolation(err)) throw err;
    const winner = await findCampaign(db, merchant.merchant_id, input.out_campaign_no);
    if (!winner) throw err;
    return repeat(winner, request_hash);
  }
  await sendInvitationSms(deps, built.campaign, built.sends, CAMPAIGN_LIMITS.sms_inline_budget_ms);
  return { status: 201, campaign: built.campaign };
}

function repeat(existing: AgreementCampaignRow, request_hash: string): CampaignCreated {
  if (existing.request_hash !== request_hash) throw new PaycoreError("duplicate_out_trade_no", "out_campaign_no was already used with other parameters");
  return { status: 200, campaign: existing };
}

export async function findCampaign(db: Kysely<Database>, merchant_id: string, out_campaign_no: string): Promise<AgreementCampaignRow | undefined> {
  return db.selectFrom("agreement_campaigns").selectAll().where("merchant_id", "=", merchant_id).where("out_campaign_no", "=", out_campaign_no).executeTakeFirst();
}

async function assertDailyInvitationLimit(db: Kysely<Database>, merchant_id: string, adding: number, now: Date): Promise<void> {
  const since = new Date(now.getTime() - 24 * 3_600_000);
  const row = await db
    .selectFrom("campaign_invitations")
    .select((eb) => eb.fn.countAll<string | number | bigint>().as("n"))
    .where("merchant_id", "=", merchant_id)
    .where("created_at", ">", since)
    .executeTakeFirstOrThrow();
  if (Number(row.n) + adding > CAMPAIGN_LIMITS.invitations_per_merchant_per_day_max) {
    throw new PaycoreError("limit_exceeded", `at most ${CAMPAIGN_LIMITS.invitations_per_merchant_per_day_max} campaign invitations per merchant ID in 24 hours`);
  }
}

function buildRows(deps: PaymentDeps, merchant: MerchantRow, input: CampaignCreateInput, request_hash: string, options: CampaignOptions, now: Date) {
  const link_ttl_hours = input.link_ttl_hours ?? options.link_ttl_hours_default;
  const expires_at = new Date(now.getTime() + link_ttl_hours * 3_600_000);
  const campaign: AgreementCampaignRow = {
    campaign_id: newId("cmp", now.getTime()),
    merchant_id: merchant.merchant_id,
    out_campaign_no: input.out_campaign_no,
    request_hash,
    invitation_count: input.invitations.length,
    link_ttl_hours,
    links_expire_at: expires_at,
    public_base_url: options.public_base_url,
    created_at: now,
  };
  const sends: InvitationSend[] = [];
  const invitations = input.invitations.map((inv, position): CampaignInvitationRow => {
    const invitation_id = newId("inv", now.getTime());
    const token = newLinkToken();
    sends.push({ invitation_id, token, attempt: 1 });
    return {
      invitation_id,
      campaign_id: campaign.campaign_id,
      merchant_id: merchant.merchant_id,
      position,
      user_ref: inv.user_ref,
      holder_name_enc: deps.ctx.box.seal(inv.holder_name, holderNameAad(invitation_id)),
      phone_enc: deps.ctx.box.seal(inv.phone, phoneAad(invitation_id)),
      phone_last4: inv.phone.slice(-4),
      token_hash: linkTokenHash(deps.ctx.box, token),
      status: "invited",
      sign_attempts: 0,
      sign_request_id: null,
      agreement_id: null,
      failure_code: null,
      // The first send is claimed by this request (attempt 1, under a lease); a crash before it
      // is recorded leaves it to the retry pass once the lease ends.
      sms_status: "pending",
      sms_attempts: 1,
      sms_next_at: new Date(now.getTime() + CAMPAIGN_LIMITS.sms_claim_lease_ms),
      sms_error: null,
      expires_at,
      opened_at: null,
      signed_at: null,
      created_at: now,
      updated_at: now,
    };
  });
  return { campaign, invitations, sends };
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === "object" && err !== null && "code" in err && (err as { code: unknown }).code === "23505";
}
