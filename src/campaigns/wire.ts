import { z } from "zod";
import type { AgreementCampaignRow, CampaignInvitationRow, InvitationStatus } from "../db/index.ts";
import { isMobilePhone } from "../kernel/checks.ts";
import { LIMITS } from "../kernel/limits.ts";
import { CAMPAIGN_LIMITS } from "./limits.ts";

/** The JSON edge of `/v1/agreement-campaigns`: requests validated here, answers shaped here. */
const printable = /^[\x21-\x7e]+$/;

export const InvitationIn = z.strictObject({
  user_ref: z.string().trim().min(1).max(LIMITS.user_ref_chars_max).regex(printable, "printable ASCII, no spaces"),
  holder_name: z.string().trim().min(2).max(32),
  phone: z.string().trim().refine(isMobilePhone, "must be an 11-digit mainland mobile number"),
});

export const CampaignCreate = z
  .strictObject({
    out_campaign_no: z.string().trim().min(1).max(LIMITS.out_no_chars_max).regex(printable, "printable ASCII, no spaces"),
    invitations: z.array(InvitationIn).min(1).max(CAMPAIGN_LIMITS.invitations_per_campaign_max),
    link_ttl_hours: z.number().int().min(1).max(CAMPAIGN_LIMITS.link_ttl_hours_max).optional(),
  })
  .superRefine((body, issues) => {
    const seen = { user_ref: new Set<string>(), phone: new Set<string>() };
    body.invitations.forEach((inv, i) => {
      for (const key of ["user_ref", "phone"] as const) {
        if (seen[key].has(inv[key])) issues.addIssue({ code: "custom", path: ["invitations", i, key], message: `duplicate ${key} in this campaign` });
        seen[key].add(inv[key]);
      }
    });
  });
export type CampaignCreateInput = z.infer<typeof CampaignCreate>;

export const CampaignId = z.strictObject({ campaign_id: z.string().min(1).max(64) });

export const InvitationListQuery = z.strictObject({
  status: z.enum(["invited", "opened", "signed", "failed", "expired"]).optional(),
  limit: z.coerce.number().int().min(1).max(LIMITS.page_size_max).default(LIMITS.page_size_default),
  cursor: z.string().min(1).max(64).optional(),
});

const Counts = z.object({ invited: z.number(), opened: z.number(), signed: z.number(), expired: z.number(), failed: z.number() });

export const CampaignOut = z.object({
  campaign_id: z.string(),
  out_campaign_no: z.string(),
  invitation_count: z.number(),
  link_ttl_hours: z.number(),
  links_expire_at: z.string(),
  created_at: z.string(),
  counts: Counts,
  sms: z.object({ sent: z.number(), pending: z.number(), failed: z.number() }),
});

export const InvitationOut = z.object({
  invitation_id: z.string(),
  user_ref: z.string(),
  phone_last4: z.string(),
  status: z.enum(["invited", "opened", "signed", "failed", "expired"]),
  agreement_id: z.string().nullable(),
  failure_code: z.string().nullable(),
  sms_status: z.enum(["pending", "sent", "failed"]),
  opened_at: z.string().nullable(),
  signed_at: z.string().nullable(),
  expires_at: z.string(),
});

export type StateCounts = Record<InvitationStatus, number>;
export type SmsCounts = Record<CampaignInvitationRow["sms_status"], number>;

export function campaignToWire(c: AgreementCampaignRow, counts: StateCounts, sms: SmsCounts): z.infer<typeof CampaignOut> {
  return {
    campaign_id: c.campaign_id,
    out_campaign_no: c.out_campaign_no,
    invitation_count: c.invitation_count,
    link_ttl_hours: c.link_ttl_hours,
    links_expire_at: c.links_expire_at.toISOString(),
    created_at: c.created_at.toISOString(),
    counts,
    sms,
  };
}

export function invitationToWire(r: CampaignInvitationRow): z.infer<typeof InvitationOut> {
  return {
    invitation_id: r.invitation_id,
    user_ref: r.user_ref,
    phone_last4: r.phone_last4,
    status: r.status,
    agreement_id: r.agreement_id,
    failure_code: r.failure_code,
    sms_status: r.sms_status,
    opened_at: r.opened_at?.toISOString() ?? null,
    signed_at: r.signed_at?.toISOString() ?? null,
    expires_at: r.expires_at.toISOString(),
  };
}
