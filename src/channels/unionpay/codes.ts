import type { FailureReason } from "../types.ts";

/** UnionPay answer codes (sandbox conventions, docs/sandbox.md) and what they mean to paycore. */
export const UNIONPAY_SUCCESS = "00";
/** Accepted, outcome not known yet: a later query decides. */
export const UNIONPAY_PROCESSING = new Set(["03", "04", "05"]);
/** A replay refusal says nothing about the first delivery: it stays pending. */
export const UNIONPAY_REPLAYED = "13";
/** The message itself was refused (signature, certificate, format, freshness, busy): not processed. */
export const UNIONPAY_REJECTED = new Set(["11", "14", "30", "31", "32", "96"]);
export const UNIONPAY_NOT_FOUND = "34";

export const UNIONPAY_REASONS: Readonly<Record<string, FailureReason>> = {
  "01": "bank_declined",
  "12": "duplicate_transaction",
  "34": "original_not_found",
  "35": "original_not_successful",
  "36": "refund_exceeds_original",
  "37": "refund_window_expired",
  "38": "not_supported",
  "51": "insufficient_funds",
  "61": "limit_exceeded",
  "62": "card_frozen",
  "63": "card_lost",
  "64": "card_not_found",
  "71": "name_mismatch",
  "72": "id_mismatch",
  "73": "phone_mismatch",
  "74": "cvn2_mismatch",
  "75": "expiry_mismatch",
  "76": "credit_elements_required",
  "80": "otp_invalid",
  "81": "otp_expired",
  "82": "otp_attempts_exceeded",
  "83": "otp_resend_too_soon",
  "84": "otp_resend_limit",
  "85": "sign_request_not_found",
  "86": "sign_request_closed",
  "90": "agreement_not_found",
  "91": "agreement_inactive",
  "92": "not_signed",
};

export const TXN_TYPES = {
  sign_apply: ["77", "00"],
  sign_resend: ["77", "02"],
  sign_confirm: ["79", "00"],
  sign_sync: ["79", "01"],
  unbind: ["74", "01"],
  pay: ["01", "01"],
  refund: ["04", "00"],
  query: ["00", "00"],
  statement: ["76", "01"],
} as const;

export const QUERIED_KINDS = {
  "77/00": "sign",
  "77/02": "resend",
  "79/01": "sync",
  "74/01": "unbind",
  "01/01": "pay",
  "04/00": "refund",
} as const;
