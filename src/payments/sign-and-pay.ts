import { confirmSigning } from "../agreements/confirm.ts";
import { startSigning, type SignStartAnswer } from "../agreements/signing.ts";
import type { AgreementRow, MerchantRow, PaymentRow } from "../db/index.ts";
import { PaycoreError } from "../kernel/errors.ts";
import type { PaymentDeps } from "./deps.ts";
import { createPayment } from "./payments.ts";
import { PaymentCreate, type SignAndPayInput } from "./wire.ts";

/**
 * `POST /v1/sign-and-pay`: signs if needed, then pays. A card this merchant ID may already use
 * answers `already_signed` with the agreement and charges nothing (docs/domain.md point 4): the
 * merchant then pays with the agreement.
 */
export async function startSignAndPay(deps: PaymentDeps, merchant: MerchantRow, input: SignAndPayInput): Promise<SignStartAnswer> {
  const { card, user_ref, out_request_no, ...payment } = input;
  return startSigning(deps, merchant, {
    out_request_no: out_request_no ?? `snp-${input.out_trade_no}`,
    user_ref,
    card,
    purpose: "sign_and_pay",
    payment_request: payment,
  });
}

/** `POST /v1/sign-and-pay/confirm`: the code makes the agreement, then the stored payment is made. */
export async function confirmSignAndPay(deps: PaymentDeps, merchant: MerchantRow, sign_request_id: string, otp: string): Promise<{ agreement: AgreementRow; payment: PaymentRow; created: boolean }> {
  const confirmed = await confirmSigning(deps, merchant, sign_request_id, otp);
  const sr = confirmed.sign_request;
  if (sr.purpose !== "sign_and_pay") throw new PaycoreError("invalid_request", "sign_request_id: not a sign-and-pay request; use /v1/agreements/confirm", "sign_request_id");
  const stored = typeof sr.payment_request === "string" ? JSON.parse(sr.payment_request) : sr.payment_request;
  const input = PaymentCreate.parse({ ...(stored as object), agreement_id: confirmed.agreement.agreement_id });
  const paid = await createPayment(deps, merchant, input);
  if (sr.payment_id === null) {
    await deps.ctx.db.updateTable("sign_requests").set({ payment_id: paid.payment.payment_id }).where("sign_request_id", "=", sr.sign_request_id).execute();
  }
  return { agreement: confirmed.agreement, payment: paid.payment, created: paid.status === 201 };
}
