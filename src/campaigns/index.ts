export { CAMPAIGN_LIMITS } from "./limits.ts";
export { campaignSettingsFromEnv, type CampaignSettings } from "./settings.ts";
export { createCampaign, type CampaignCreated, type CampaignOptions } from "./create.ts";
export { campaignProgress, listInvitations, type CampaignProgress } from "./progress.ts";
export { retryDueInvitationSms } from "./invitation-sms.ts";
export { openHostedPage, submitHostedPage, type HostedForm } from "./hosted.ts";
export { escapeHtml, renderHostedPage, type HostedPage } from "./html.ts";
export { INVITATION_TRANSITIONS } from "./states.ts";
export * as campaignWire from "./wire.ts";
