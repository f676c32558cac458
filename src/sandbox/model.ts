/** The sandbox's own domain: what the simulated banks and networks know. */

export const NETWORK_IDS = ["netsunion", "unionpay_nocard", "unionpay_quickpay"] as const;
export type NetworkId = (typeof NETWORK_IDS)[number];

/** Networks whose registries take part in 三库统一 (legacy quick pay never does). */
export const UNIFIED_NETWORKS: readonly NetworkId[] = ["netsunion", "unionpay_nocard"];

export const OPERATIONS = ["sign", "confirm", "sync", "pay", "refund", "query", "unbind", "statement"] as const;
export type Operation = (typeof OPERATIONS)[number];

export type CardType = "debit" | "credit";
export type CardStatus = "normal" | "frozen" | "lost";

export interface Bank {
  bank_code: string;
  bank_name: string;
  /** First three digits of the bank's CNAPS codes. */
  cnaps_prefix: string;
  debit_bin: string;
  debit_length: number;
  credit_bin: string;
  credit_length: number;
  /** Its registries are unified with NetsUnion's and UnionPay's (三库统一). */
  unified: boolean;
}

export interface Card {
  card_number: string;
  holder_name: string;
  id_number: string;
  phone: string;
  bank_code: string;
  card_type: CardType;
  status: CardStatus;
  /** Debit: the balance; credit: the credit still available. */
  balance_fen: bigint;
  daily_limit_fen: bigint;
  cvn2: string | null;
  /** MMYY */
  expiry: string | null;
}

/** Why a bank or network says no, in the sandbox's own words; each network has its wire codes. */
export const DECLINE_REASONS = [
  "card_not_found",
  "card_frozen",
  "card_lost",
  "name_mismatch",
  "id_mismatch",
  "phone_mismatch",
  "cvn2_mismatch",
  "expiry_mismatch",
  "credit_elements_required",
  "otp_invalid",
  "otp_expired",
  "otp_attempts_exceeded",
  "otp_resend_too_soon",
  "otp_resend_limit",
  "sign_request_not_found",
  "sign_request_closed",
  "not_signed",
  "agreement_not_found",
  "agreement_inactive",
  "insufficient_funds",
  "daily_limit_exceeded",
  "original_not_found",
  "original_not_successful",
  "refund_exceeds_original",
  "refund_window_expired",
  "duplicate_transaction",
  "not_supported",
  "bank_declined",
] as const;
export type DeclineReason = (typeof DECLINE_REASONS)[number];

/** An engine answer: done, declined (with the reason or a raw network code from a fault), or not known yet. */
export type EngineResult<T> =
  | { outcome: "ok"; value: T }
  | { outcome: "declined"; reason: DeclineReason; raw_code: string | null }
  | { outcome: "processing" };

export const VERIFIED_ELEMENTS = ["name", "id_number", "card_number", "phone", "cvn2", "expiry"] as const;
