/**
 * @paycore/sdk — the typed merchant client for paycore's Open API.
 *
 *   const paycore = new PaycoreClient({ base_url, mch_id, key_id, secret });
 *   const payment = await paycore.payments.create({ out_trade_no, agreement_id, amount: 8800, currency: "CNY", description });
 *
 * Amounts are integer fen (8800 = 88.00 yuan). Types come from paycore's OpenAPI document.
 */
export { PaycoreClient, PAGES_MAX_DEFAULT, type Agreement, type Answer, type AnswerOf, type Balance, type BodyOf, type ClientOptions, type Payment, type QueryOf, type Refund, type RequestOptions } from "./client.ts";
export { PaycoreApiError, PaycoreNetworkError, PaycoreSignatureError } from "./errors.ts";
export { backoffDelayMs, DEFAULT_RETRY, RETRY_ATTEMPTS_MAX, type RetryPolicy } from "./retry.ts";
export { answerStringToSign, authorizationHeader, AUTH_SCHEME, requestStringToSign, verifyAnswerSignature, type Credentials } from "./signing.ts";
export { verifyWebhook, type VerifyWebhookOptions, type WebhookEvent } from "./webhooks.ts";
export type { components, paths } from "./generated/openapi.ts";
