import type { DeclineReason } from "../model.ts";

/**
 * Each network's own answer codes (sandbox conventions, documented in docs/sandbox.md).
 * `src/channels` keeps its own copy of these tables and maps them back; a code it does not know
 * is never taken as success or failure.
 */
export const NETSUNION_BIZ_CODES: Record<DeclineReason, string> = {
  card_not_found: "PB110001",
  card_frozen: "PB110002",
  card_lost: "PB110003",
  name_mismatch: "PB120001",
  id_mismatch: "PB120002",
  phone_mismatch: "PB120003",
  cvn2_mismatch: "PB120004",
  expiry_mismatch: "PB120005",
  credit_elements_required: "PB120006",
  otp_invalid: "PB130001",
  otp_expired: "PB130002",
  otp_attempts_exceeded: "PB130003",
  otp_resend_too_soon: "PB130004",
  otp_resend_limit: "PB130005",
  sign_request_not_found: "PB130006",
  sign_request_closed: "PB130007",
  not_signed: "PB140001",
  agreement_not_found: "PB140002",
  agreement_inactive: "PB140003",
  insufficient_funds: "PB150001",
  daily_limit_exceeded: "PB150002",
  original_not_found: "PB160001",
  original_not_successful: "PB160002",
  refund_exceeds_original: "PB160003",
  refund_window_expired: "PB160004",
  duplicate_transaction: "PB170001",
  not_supported: "PB170002",
  bank_declined: "PB190001",
};

/** NetsUnion system return codes: anything but success means the message was not processed. */
export const NETSUNION_SYSTEM = {
  ok: "00000000",
  signature_invalid: "EP000001",
  replayed: "EP000002",
  malformed: "EP000003",
  unknown_certificate: "EP000004",
  decryption_failed: "EP000005",
  stale: "EP000006",
  busy: "EP000009",
} as const;

export const UNIONPAY_RESP_CODES: Record<DeclineReason, string> = {
  bank_declined: "01",
  duplicate_transaction: "12",
  original_not_found: "34",
  original_not_successful: "35",
  refund_exceeds_original: "36",
  refund_window_expired: "37",
  not_supported: "38",
  insufficient_funds: "51",
  daily_limit_exceeded: "61",
  card_frozen: "62",
  card_lost: "63",
  card_not_found: "64",
  name_mismatch: "71",
  id_mismatch: "72",
  phone_mismatch: "73",
  cvn2_mismatch: "74",
  expiry_mismatch: "75",
  credit_elements_required: "76",
  otp_invalid: "80",
  otp_expired: "81",
  otp_attempts_exceeded: "82",
  otp_resend_too_soon: "83",
  otp_resend_limit: "84",
  sign_request_not_found: "85",
  sign_request_closed: "86",
  agreement_not_found: "90",
  agreement_inactive: "91",
  not_signed: "92",
};

export const UNIONPAY_SYSTEM = {
  ok: "00",
  processing: "05",
  signature_invalid: "11",
  replayed: "13",
  unknown_certificate: "14",
  malformed: "30",
  decryption_failed: "31",
  stale: "32",
  busy: "96",
} as const;
