/**
 * The cardholder's side of a campaign: the hosted signing page. The only campaign code that can
 * lead to an agreement, and only with the cardholder's own card entry and code on the page.
 */
export { openHostedPage, submitHostedPage, type HostedForm } from "./hosted.ts";
export { renderHostedPage, type HostedPage } from "./html.ts";
export { CAMPAIGN_LIMITS } from "./limits.ts";
