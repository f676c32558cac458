import { startTestApp, createTestMerchant, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard } from "../payments/helpers.ts";
import type { FuzzTarget } from "./fuzz.ts";

/**
 * A paycore with the sandbox and some real things to aim at: a merchant with a signed agreement,
 * a payment and a refund, and a second merchant ID that admin operations may act on. The fuzzer's
 * own merchant ID and the operator's id are never among the ids it aims with, so that no generated
 * request (key rotation, suspension) takes away the credentials it signs with.
 */
export async function fuzzTarget(): Promise<FuzzTarget & { close(): Promise<void> }> {
  const app: TestApp = await startTestApp({ label: "fuzz", sandbox: true, settings: { rate_limit_per_minute: 1_000_000 } });
  const own = await createTestMerchant(app);
  const other = await createTestMerchant(app);
  const client = app.merchantClient(own.creds);
  const card = pickCard(await catalogue(app), { unified: true, card_type: "debit" });
  const agreement_id = await signCard(app, client, card, "fuzz-sign-1");
  const pay = await client.post<{ payment_id: string }>("/v1/payments", { out_trade_no: "fuzz-pay-1", agreement_id, amount: 10_000, currency: "CNY", description: "fuzz" });
  if (pay.status !== 201) throw new Error(`fuzz setup payment: ${pay.status} ${pay.text}`);
  const refund = await client.post<{ refund_id: string }>(`/v1/payments/${pay.body.payment_id}/refunds`, { out_refund_no: "fuzz-ref-1", amount: 100 });
  const ids = [other.merchant.merchant_id as string, other.entity_id, agreement_id, pay.body.payment_id, ...(refund.status < 300 ? [refund.body.refund_id] : [])];
  return {
    app,
    merchant: own.creds,
    ids,
    close: () => app.close(),
  };
}
