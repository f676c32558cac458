import { z } from "zod";
import { checkNotifyUrl } from "../../notify/index.ts";
import { confirmSigning, resendOtp } from "../../agreements/confirm.ts";
import { startSigning, type SignStartAnswer } from "../../agreements/signing.ts";
import { getAgreementWithCard, listAgreements } from "../../agreements/store.ts";
import { unbindByMerchant } from "../../agreements/unbind.ts";
import type { PaymentDeps } from "../../payments/deps.ts";
import { confirmSignAndPay, startSignAndPay } from "../../payments/sign-and-pay.ts";
import * as W from "../../payments/wire.ts";
import { merchantRoute, type RouteDef } from "../route.ts";
import { listOf } from "./common.ts";

const AgreementId = z.strictObject({ agreement_id: z.string().min(1).max(64) });

function signAnswer(a: SignStartAnswer) {
  const reused = a.sign_request.kind === "reuse";
  return {
    status: a.status,
    body: {
      sign_request_id: a.sign_request.sign_request_id,
      status: reused ? ("already_signed" as const) : ("otp_sent" as const),
      agreement_id: reused ? a.agreement_id ?? a.sign_request.agreement_id : null,
      otp_sent_to: a.otp_sent_to,
      warnings: a.warnings,
    },
  };
}

export function openAgreementRoutes(deps: PaymentDeps): RouteDef[] {
  const db = deps.ctx.db;
  return [
    merchantRoute({
      method: "POST",
      url: "/v1/agreements",
      summary: "Start signing a card: otp_sent (the bank's or paycore's SMS went out) or already_signed (no SMS, nothing charged)",
      tags: ["Agreements"],
      body: W.SignStart,
      response: W.SignStartOut,
      success_status: 201,
      handler: async (i) => signAnswer(await startSigning(deps, i.merchant.merchant, { ...i.body, purpose: "sign" })),
    }),
    merchantRoute({
      method: "POST",
      url: "/v1/agreements/confirm",
      summary: "Confirm signing with the SMS code: answers the agreement",
      tags: ["Agreements"],
      body: W.SignConfirm,
      response: W.AgreementOut,
      success_status: 201,
      handler: async (i) => {
        const c = await confirmSigning(deps, i.merchant.merchant, i.body.sign_request_id, i.body.otp);
        const { card } = await getAgreementWithCard(db, i.merchant.merchant_id, c.agreement.agreement_id);
        return { status: c.created ? 201 : 200, body: W.agreementToWire(c.agreement, card) };
      },
    }),
    merchantRoute({
      method: "POST",
      url: "/v1/agreements/resend-otp",
      summary: "Send a new SMS code (at most once a minute)",
      tags: ["Agreements"],
      body: W.SignResend,
      response: z.object({ sign_request_id: z.string(), status: z.literal("otp_sent") }),
      handler: async (i) => {
        const sr = await resendOtp(deps, i.merchant.merchant, i.body.sign_request_id);
        return { body: { sign_request_id: sr.sign_request_id, status: "otp_sent" } };
      },
    }),
    merchantRoute({
      method: "GET",
      url: "/v1/agreements/:agreement_id",
      summary: "Get an agreement",
      tags: ["Agreements"],
      params: AgreementId,
      response: W.AgreementOut,
      handler: async (i) => {
        const { agreement, card } = await getAgreementWithCard(db, i.merchant.merchant_id, i.params.agreement_id);
        return { body: W.agreementToWire(agreement, card) };
      },
    }),
    merchantRoute({
      method: "GET",
      url: "/v1/agreements",
      summary: "List agreements, filtered by user_ref",
      tags: ["Agreements"],
      query: W.AgreementListQuery,
      response: listOf(W.AgreementOut),
      handler: async (i) => {
        const page = await listAgreements(db, i.merchant.merchant_id, i.query);
        return { body: { data: page.data.map((r) => W.agreementToWire(r, r)), next_cursor: page.next_cursor } };
      },
    }),
    merchantRoute({
      method: "POST",
      url: "/v1/agreements/:agreement_id/unbind",
      summary: "Unbind: ends this merchant ID's agreement (and the network's when no merchant uses the card)",
      tags: ["Agreements"],
      params: AgreementId,
      response: W.AgreementOut,
      handler: async (i) => {
        const a = await unbindByMerchant(deps, i.merchant.merchant, i.params.agreement_id);
        const { card } = await getAgreementWithCard(db, i.merchant.merchant_id, a.agreement_id);
        return { body: W.agreementToWire(a, card) };
      },
    }),
    merchantRoute({
      method: "POST",
      url: "/v1/sign-and-pay",
      summary: "Sign and pay in one call: already_signed (no payment made) or otp_sent",
      tags: ["Agreements"],
      body: W.SignAndPay,
      response: W.SignStartOut,
      success_status: 201,
      handler: async (i) => {
        checkNotifyUrl(deps.ctx.settings, i.body.notify_url, "notify_url");
        return signAnswer(await startSignAndPay(deps, i.merchant.merchant, i.body));
      },
    }),
    merchantRoute({
      method: "POST",
      url: "/v1/sign-and-pay/confirm",
      summary: "Confirm with the SMS code: answers the agreement and the payment",
      tags: ["Agreements"],
      body: W.SignConfirm,
      response: z.object({ agreement: W.AgreementOut, payment: W.PaymentOut }),
      success_status: 201,
      handler: async (i) => {
        const r = await confirmSignAndPay(deps, i.merchant.merchant, i.body.sign_request_id, i.body.otp);
        const { card } = await getAgreementWithCard(db, i.merchant.merchant_id, r.agreement.agreement_id);
        return { status: r.created ? 201 : 200, body: { agreement: W.agreementToWire(r.agreement, card), payment: W.paymentToWire(r.payment) } };
      },
    }),
  ];
}
