/**
 * Risk: pre-payment and signing rules as data, blocklists kept as keyed fingerprints, the
 * decisions they take (stored with the payment, explained), alerts, and merchant monitoring.
 */
export { screenPayment, screenSigning, type PaymentScreening, type SigningScreening } from "./screen.ts";
export * from "./rules.ts";
export * from "./blocklist.ts";
export * from "./decisions.ts";
export { RISK_LIMITS } from "./limits.ts";
export type * from "./rows.ts";
