import type { Kysely } from "kysely";
import type { CampaignInvitationRow, Database, InvitationStatus } from "../db/index.ts";
import { assertTransition } from "../payments/states.ts";

/**
 * An invitation's life: invited (SMS sent or on its way) → opened (the cardholder loaded the page)
 * → signed (the cardholder's own code, or their own card entry for a card already signed on the
 * platform) | failed (attempts or SMS sends exhausted) | expired (the link's time ran out).
 * Signing needs the page: there is no edge from `invited` to `signed`.
 */
export const INVITATION_TRANSITIONS: Readonly<Record<InvitationStatus, readonly InvitationStatus[]>> = {
  invited: ["opened", "failed", "expired"],
  opened: ["signed", "failed", "expired"],
  signed: [],
  failed: [],
  expired: [],
};

export const INVITATION_STATUSES: readonly InvitationStatus[] = ["invited", "opened", "signed", "expired", "failed"];

export type InvitationChange = Partial<Pick<CampaignInvitationRow, "agreement_id" | "failure_code" | "opened_at" | "signed_at" | "sign_request_id">>;

/**
 * Applies one transition if the row is still in `from` (a concurrent change wins and this answers
 * null). The table is checked before the write.
 */
export async function moveInvitation(
  db: Kysely<Database>,
  inv: Pick<CampaignInvitationRow, "invitation_id" | "status">,
  to: InvitationStatus,
  change: InvitationChange,
  now: Date,
): Promise<CampaignInvitationRow | null> {
  assertTransition(INVITATION_TRANSITIONS, "campaign invitation", inv.status, to);
  const row = await db
    .updateTable("campaign_invitations")
    .set({ ...change, status: to, updated_at: now })
    .where("invitation_id", "=", inv.invitation_id)
    .where("status", "=", inv.status)
    .returningAll()
    .executeTakeFirst();
  return row ?? null;
}
