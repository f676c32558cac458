import { campaignProgress, campaignSettingsFromEnv, campaignWire as W, createCampaign, listInvitations, CAMPAIGN_LIMITS, type CampaignSettings } from "../../campaigns/index.ts";
import { PaycoreError } from "../../kernel/errors.ts";
import type { PaymentDeps } from "../../payments/deps.ts";
import { merchantRoute, type RouteDef } from "../route.ts";
import { listOf } from "./common.ts";

/**
 * Batch signing campaigns (docs/campaigns.md): a merchant invites users by SMS to the hosted signing page.
 * Nothing here signs anything: agreements come only from the cardholder on `/sign/{token}`.
 */
export function openCampaignRoutes(deps: PaymentDeps, settings: CampaignSettings = campaignSettingsFromEnv()): RouteDef[] {
  return [
    merchantRoute({
      method: "POST",
      url: "/v1/agreement-campaigns",
      summary: "Create a batch signing campaign: each invitee gets an SMS with a link to the hosted signing page",
      description:
        `At most ${CAMPAIGN_LIMITS.invitations_per_campaign_max} invitations (user_ref and phone unique in the campaign). ` +
        "Creating a campaign makes no agreement and sends no bank code: each cardholder signs on the page with their own card entry and code. " +
        "A repeat with the same out_campaign_no and body answers the campaign (200); another body answers duplicate_out_trade_no.",
      tags: ["Campaigns"],
      body: W.CampaignCreate,
      response: W.CampaignOut,
      success_status: 201,
      handler: async (i) => {
        const created = await createCampaign(deps, i.merchant.merchant, i.body, { public_base_url: publicBaseUrl(deps.ctx.settings.public_url), link_ttl_hours_default: settings.link_ttl_hours_default });
        const p = await campaignProgress(deps, i.merchant.merchant_id, created.campaign.campaign_id);
        return { status: created.status, body: W.campaignToWire(p.campaign, p.counts, p.sms) };
      },
    }),
    merchantRoute({
      method: "GET",
      url: "/v1/agreement-campaigns/:campaign_id",
      summary: "A campaign and its invitations counted per state (invited, opened, signed, expired, failed)",
      tags: ["Campaigns"],
      params: W.CampaignId,
      response: W.CampaignOut,
      handler: async (i) => {
        const p = await campaignProgress(deps, i.merchant.merchant_id, i.params.campaign_id);
        return { body: W.campaignToWire(p.campaign, p.counts, p.sms) };
      },
    }),
    merchantRoute({
      method: "GET",
      url: "/v1/agreement-campaigns/:campaign_id/invitations",
      summary: "A campaign's invitations (user_ref, state, agreement_id once signed), filtered by status",
      tags: ["Campaigns"],
      params: W.CampaignId,
      query: W.InvitationListQuery,
      response: listOf(W.InvitationOut),
      handler: async (i) => {
        const page = await listInvitations(deps, i.merchant.merchant_id, i.params.campaign_id, i.query);
        return { body: { data: page.rows.map(W.invitationToWire), next_cursor: page.next_cursor } };
      },
    }),
  ];
}

/** Links go to the configured public URL only: a forged Host must never reach a cardholder's SMS. */
function publicBaseUrl(public_url: string | null): string {
  if (!public_url) {
    throw new PaycoreError("service_unavailable", "campaigns are off: the operator has not set PAYCORE_PUBLIC_URL, the base of the links sent to cardholders");
  }
  return public_url;
}
