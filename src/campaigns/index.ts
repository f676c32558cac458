/**
 * Campaigns as merchants and operators use them: create, progress, SMS retries. Nothing exported
 * here can make an agreement; the cardholder's side is `./page.ts` (test/campaigns/no-silent-path
 * checks that from the import graph).
 */
export { CAMPAIGN_LIMITS } from "./limits.ts";
export { campaignSettingsFromEnv, type CampaignSettings } from "./settings.ts";
export { createCampaign, type CampaignCreated, type CampaignOptions } from "./create.ts";
export { campaignProgress, listInvitations, type CampaignProgress } from "./progress.ts";
export { retryDueInvitationSms } from "./invitation-sms.ts";
export { escapeHtml } from "./html.ts";
export { INVITATION_TRANSITIONS } from "./states.ts";
export * as campaignWire from "./wire.ts";
