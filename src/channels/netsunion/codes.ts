import type { FailureReason } from "../types.ts";

/** NetsUnion business codes (sandbox conventions, docs/sandbox.md) and what they mean to paycore. */
export const NETSUNION_BIZ_REASONS: Readonly<Record<string, FailureReason>> = {
  PB110001: "card_not_found",
  PB110002: "card_frozen",
  PB110003: "card_lost",
  PB120001: "name_mismatch",
  PB120002: "id_mismatch",
  PB120003: "phone_mismatch",
  PB120004: "cvn2_mismatch",
  PB120005: "expiry_mismatch",
  PB120006: "credit_elements_required",
  PB130001: "otp_invalid",
  PB130002: "otp_expired",
  PB130003: "otp_attempts_exceeded",
  PB130004: "otp_resend_too_soon",
  PB130005: "otp_resend_limit",
  PB130006: "sign_request_not_found",
  PB130007: "sign_request_closed",
  PB140001: "not_signed",
  PB140002: "agreement_not_found",
  PB140003: "agreement_inactive",
  PB150001: "insufficient_funds",
  PB150002: "limit_exceeded",
  PB160001: "original_not_found",
  PB160002: "original_not_successful",
  PB160003: "refund_exceeds_original",
  PB160004: "refund_window_expired",
  PB170001: "duplicate_transaction",
  PB170002: "not_supported",
  PB190001: "bank_declined",
};

export const NETSUNION_SYS_OK = "00000000";

/**
 * System return codes: the message was refused before any processing, except a replay refusal,
 * which says nothing about the first delivery of the same message, so it stays pending.
 */
export type SystemMeaning = "rejected" | "unknown";
export const NETSUNION_SYSTEM_CODES: Readonly<Record<string, SystemMeaning>> = {
  EP000001: "rejected", // signature invalid
  EP000002: "unknown", // replayed
  EP000003: "rejected", // malformed
  EP000004: "rejected", // unknown certificate
  EP000005: "rejected", // envelope does not open
  EP000006: "rejected", // stale
  EP000009: "rejected", // busy
};

export const CATEGORY_KINDS = {
  "0201": "sign",
  "0205": "resend",
  "0204": "sync",
  "0203": "unbind",
  "0110": "pay",
  "0121": "refund",
} as const;
