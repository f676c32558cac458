/**
 * Your first agreement payment against a running paycore (`npm start`), as a merchant would make
 * it with the SDK (@paycore/sdk, in sdk/): sign a sandbox test card (the bank's SMS code comes from
 * the sandbox inbox), pay, refund, read the balance. Every request is signed and every answer's
 * signature verified by the SDK.
 *
 *   npm start            # in one terminal; copy a demo merchant's mch_id, key_id and secret
 *   MCH_ID=mch_… KEY_ID=key_… SECRET=sk_… node --import tsx examples/first-payment.ts
 *
 * It finds paycore and the sandbox with the server's own settings (PORT, SANDBOX_PORT, HOST,
 * SANDBOX_URL; or PAYCORE_URL for a paycore elsewhere), so start both with the same environment.
 */
import { PaycoreApiError, PaycoreClient } from "@paycore/sdk";
import { loadConfig } from "../src/config.ts";

const need = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name} (see the comment at the top of this file)`);
  return value;
};

const config = loadConfig();
// A server bound to every interface is reached on loopback.
const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host.includes(":") ? `[${config.host}]` : config.host;
const paycore_url = process.env.PAYCORE_URL ?? `http://${host}:${config.port}`;
const sandbox = config.sandbox_url ?? `http://${host}:${config.sandbox_port}`;
console.log(`using paycore at ${paycore_url} (${process.env.PAYCORE_URL ? "PAYCORE_URL" : `PORT=${config.port}`}), sandbox at ${sandbox} (${config.sandbox_url ? "SANDBOX_URL" : `SANDBOX_PORT=${config.sandbox_port}`})`);
const paycore = new PaycoreClient({ base_url: paycore_url, mch_id: need("MCH_ID"), key_id: need("KEY_ID"), secret: need("SECRET") });

interface TestCard {
  card_number: string;
  holder_name: string;
  id_number: string;
  phone: string;
  card_type: string;
  status: string;
  balance: number;
}

/** Amounts are integer fen; shown as yuan without floating point. */
const yuan = (fen: number): string => `${BigInt(fen) / 100n}.${String(BigInt(fen) % 100n).padStart(2, "0")}`;

const cards = ((await (await fetch(`${sandbox}/sandbox/v1/cards`)).json()) as { data: TestCard[] }).data;
const card = cards.find((c) => c.card_type === "debit" && c.status === "normal" && c.balance > 100_000)!;
const run = Date.now().toString(36);
console.log(`card ${card.card_number.slice(0, 6)}…${card.card_number.slice(-4)} of ${card.holder_name}`);

const start = await paycore.agreements.create({
  out_request_no: `try-${run}`,
  user_ref: "first-user",
  card: { holder_name: card.holder_name, id_type: "resident_id", id_number: card.id_number, card_number: card.card_number, phone: card.phone },
});
console.log("sign:", start.status);

let agreement_id = start.agreement_id ?? "";
if (start.status === "otp_sent") {
  const sms = ((await (await fetch(`${sandbox}/sandbox/v1/sms?phone=${card.phone}`)).json()) as { data: { text: string; otp: string }[] }).data;
  console.log("SMS:", sms.at(-1)!.text);
  const agreement = await paycore.agreements.confirm({ sign_request_id: start.sign_request_id!, otp: sms.at(-1)!.otp });
  agreement_id = agreement.agreement_id;
}
console.log("agreement:", agreement_id);

// The SDK sends an Idempotency-Key with every POST and retries only when paycore did not answer
// or answered 5xx, so a retried payment is the same payment.
const payment = await paycore.payments.create({ out_trade_no: `order-${run}`, agreement_id, amount: 8_800, currency: "CNY", description: "first payment" });
console.log(`pay: ${payment.payment_id} ${payment.status} ${yuan(payment.amount)} yuan via ${payment.channel}`);

const refund = await paycore.payments.refund(payment.payment_id, { out_refund_no: `refund-${run}`, amount: 1_000, reason: "one item back" });
console.log(`refund: ${refund.refund_id} ${refund.status} ${yuan(refund.amount)} yuan`);

try {
  await paycore.payments.refund(payment.payment_id, { out_refund_no: `refund-too-much-${run}`, amount: 8_800, reason: "more than is left" });
} catch (err) {
  if (!(err instanceof PaycoreApiError)) throw err;
  console.log(`refund of more than is left: ${err.status} ${err.code}`);
}

const balance = await paycore.balance.get();
console.log(`balance: pending ${yuan(balance.pending)} yuan, available ${yuan(balance.available)} yuan`);
