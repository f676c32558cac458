import type { Kysely } from "kysely";
import type { AgreementCampaignRow, CampaignInvitationRow, Database } from "../db/index.ts";
import { toPage } from "../db/paging.ts";
import { notFound } from "../kernel/errors.ts";
import type { PaymentDeps } from "../payments/deps.ts";
import { retryDueInvitationSms } from "./invitation-sms.ts";
import { INVITATION_STATUSES } from "./states.ts";
import type { SmsCounts, StateCounts } from "./wire.ts";

/** `GET /v1/agreement-campaigns/{id}`: the campaign and how many invitations are in each state. */
export interface CampaignProgress {
  campaign: AgreementCampaignRow;
  counts: StateCounts;
  sms: SmsCounts;
}

export async function getCampaign(db: Kysely<Database>, merchant_id: string, campaign_id: string): Promise<AgreementCampaignRow> {
  const row = await db.selectFrom("agreement_campaigns").selectAll().where("campaign_id", "=", campaign_id).where("merchant_id", "=", merchant_id).executeTakeFirst();
  if (!row) throw notFound("campaign");
  return row;
}

/**
 * Links past their time count as expired: those rows are moved before counting (one statement,
 * bounded by the campaign's size). Due invitation SMS retries run here too, a bounded batch.
 */
export async function campaignProgress(deps: PaymentDeps, merchant_id: string, campaign_id: string): Promise<CampaignProgress> {
  const db = deps.ctx.db;
  const campaign = await getCampaign(db, merchant_id, campaign_id);
  await expireDueInvitations(db, campaign_id, deps.ctx.clock.now());
  await retryDueInvitationSms(deps, { campaign_id });
  const rows = await db
    .selectFrom("campaign_invitations")
    .select(["status", "sms_status"])
    .select((eb) => eb.fn.countAll<string | number | bigint>().as("n"))
    .where("campaign_id", "=", campaign_id)
    .groupBy(["status", "sms_status"])
    .execute();
  const counts = Object.fromEntries(INVITATION_STATUSES.map((s) => [s, 0])) as StateCounts;
  const sms: SmsCounts = { sent: 0, pending: 0, failed: 0 };
  for (const r of rows) {
    counts[r.status] += Number(r.n);
    sms[r.sms_status] += Number(r.n);
  }
  return { campaign, counts, sms };
}

/**
 * invited/opened → expired (allowed by INVITATION_TRANSITIONS) for every link of the campaign whose
 * time has run out; an SMS still waiting for a retry by then is given up.
 */
export async function expireDueInvitations(db: Kysely<Database>, campaign_id: string, now: Date): Promise<void> {
  const due = db.updateTable("campaign_invitations").where("campaign_id", "=", campaign_id).where("expires_at", "<=", now);
  await due.set({ status: "expired", failure_code: "link_expired", updated_at: now }).where("status", "in", ["invited", "opened"]).execute();
  await due.set({ sms_status: "failed", sms_next_at: null, sms_error: "the link expired before the SMS went out", updated_at: now }).where("sms_status", "=", "pending").execute();
}

export async function listInvitations(
  deps: PaymentDeps,
  merchant_id: string,
  campaign_id: string,
  q: { status?: CampaignInvitationRow["status"] | undefined; cursor?: string | undefined; limit: number },
): Promise<{ rows: CampaignInvitationRow[]; next_cursor: string | null }> {
  await getCampaign(deps.ctx.db, merchant_id, campaign_id);
  await expireDueInvitations(deps.ctx.db, campaign_id, deps.ctx.clock.now());
  let query = deps.ctx.db.selectFrom("campaign_invitations").selectAll().where("campaign_id", "=", campaign_id).orderBy("invitation_id").limit(q.limit + 1);
  if (q.status) query = query.where("status", "=", q.status);
  if (q.cursor) query = query.where("invitation_id", ">", q.cursor);
  const page = toPage(await query.execute(), q.limit, (r) => r.invitation_id);
  return { rows: page.data, next_cursor: page.next_cursor };
}
