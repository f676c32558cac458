/**
 * The one interface every agreement-payment network implements (Hyperswitch's connector pattern):
 * common flow logic lives in paycore's core; an adapter only turns requests into the network's
 * messages and its answers back into these outcomes.
 *
 * Rule of every adapter: an outcome the network did not state explicitly is `pending` — never
 * success, never failure. Timeouts, transport errors, unknown codes and answers that fail
 * verification are all pending; a later `query` (or a notification) decides. Adapters never throw
 * on a network outcome; they throw only when called with input that breaks their contract (a bug).
 */
export const AGREEMENT_CHANNEL_IDS = ["netsunion", "unionpay_nocard", "unionpay_quickpay"] as const;
export type AgreementChannelId = (typeof AGREEMENT_CHANNEL_IDS)[number];
export const PAYOUT_CHANNEL_IDS = ["hvps", "beps", "ibps", "bank_direct"] as const;
export type PayoutChannelId = (typeof PAYOUT_CHANNEL_IDS)[number];
export type ChannelId = AgreementChannelId | PayoutChannelId;

export interface ChannelCapabilities {
  /** Takes sign apply / confirm / resend. */
  sign: boolean;
  /** Honours agreements of other unified networks through sign sync (三库统一), no OTP. */
  sign_sync: boolean;
  /** Its registry takes part in the unified registries. */
  unified_registry: boolean;
  /** A legacy product (full-channel quick pay): its agreements carry over nowhere. */
  legacy: boolean;
  credit_cards: boolean;
  refund: boolean;
  refund_window_days: number;
  unbind: boolean;
  /** Tells paycore when the cardholder cancels at the bank. */
  unbind_notice: boolean;
  statement: boolean;
}

export interface CardElements {
  holder_name: string;
  id_type: "resident_id";
  id_number: string;
  card_number: string;
  phone: string;
  /** Credit cards only. Never stored by paycore. */
  cvn2?: string | null;
  /** Credit cards only, MMYY. */
  expiry?: string | null;
}

/** Which of the elements the bank verified (the network's bitmap, decoded). */
export interface VerifiedElements {
  name: boolean;
  id_number: boolean;
  card_number: boolean;
  phone: boolean;
  cvn2: boolean;
  expiry: boolean;
}

export const FAILURE_REASONS = [
  "card_not_found", "card_frozen", "card_lost",
  "name_mismatch", "id_mismatch", "phone_mismatch", "cvn2_mismatch", "expiry_mismatch", "credit_elements_required",
  "otp_invalid", "otp_expired", "otp_attempts_exceeded", "otp_resend_too_soon", "otp_resend_limit",
  "sign_request_not_found", "sign_request_closed",
  "not_signed", "agreement_not_found", "agreement_inactive",
  "insufficient_funds", "limit_exceeded",
  "original_not_found", "original_not_successful", "refund_exceeds_original", "refund_window_expired",
  "duplicate_transaction", "not_supported", "bank_declined",
  /** The network refused the message itself (signature, certificate, format): it was not processed. */
  "message_rejected",
  /** The network said "failed" with a code paycore does not know. */
  "declined_other",
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export type PendingCause =
  /** The network said it is still processing. */
  | "processing"
  /** No answer in time: the network may or may not have acted. */
  | "timeout"
  | "transport_error"
  /** An answer whose code paycore cannot classify. */
  | "unclassified"
  /** An answer that is unsigned, badly signed, not ours, or unreadable. */
  | "bad_response";

export interface Failed {
  status: "failed";
  reason: FailureReason;
  network_code: string;
  message: string;
}

export interface Pending {
  status: "pending";
  cause: PendingCause;
  network_code: string | null;
  message: string;
}

export type Outcome<T> = ({ status: "succeeded" } & T) | Failed | Pending;

export interface SignApplyRequest {
  /** paycore's id for this signing; the network keys the sign request by it. */
  txn_id: string;
  card: CardElements;
}
export interface ResendOtpRequest {
  txn_id: string;
  sign_txn_id: string;
}
export interface SignConfirmRequest {
  sign_txn_id: string;
  otp: string;
}
export interface SignSyncRequest {
  txn_id: string;
  card: CardElements;
}
export interface UnbindRequest {
  txn_id: string;
  agreement_no: string;
}
export interface PayRequest {
  txn_id: string;
  /** paycore's payment id, echoed in statements. */
  order_id: string;
  agreement_no: string;
  amount_fen: bigint;
  description?: string;
}
export interface RefundRequest {
  txn_id: string;
  order_id: string;
  original_txn_id: string;
  original_network_txn_id: string;
  amount_fen: bigint;
}
export interface QueryRequest {
  /** The transaction asked about: a sign (its sign txn id), pay, refund or unbind. */
  txn_id: string;
}
export interface StatementRequest {
  /** `YYYY-MM-DD`, the network's settlement day (cut-off 23:00 Beijing time). */
  settlement_date: string;
}

export type SignApplyResult = Outcome<{ phone_masked: string }>;
export type ResendOtpResult = Outcome<Record<never, never>>;
export type SignedResult = Outcome<{ agreement_no: string; verified: VerifiedElements }>;
export type UnbindResult = Outcome<{ agreement_no: string }>;
export type MoneyResult = Outcome<{ network_txn_id: string; amount_fen: bigint; fee_fen: bigint | null; settlement_date: string }>;

export type QueriedKind = "sign" | "resend" | "sync" | "unbind" | "pay" | "refund";
export type QueryResult =
  // fee_fen: the network's own fee for a queried debit, as its query answer states it (null when it does not).
  | Outcome<{ kind: QueriedKind; network_txn_id: string | null; agreement_no: string | null; amount_fen: bigint | null; fee_fen: bigint | null; settlement_date: string | null }>
  | { status: "not_found"; network_code: string };

export interface StatementRecord {
  kind: "pay" | "refund";
  network_txn_id: string;
  txn_id: string;
  order_id: string;
  amount_fen: bigint;
  fee_fen: bigint;
  /** Signed: what the network pays paycore for this line (negative for a refund). */
  settlement_amount_fen: bigint;
  card_masked: string;
}
/** A day's file, verified against the signed answer and checked line by line (src/channels/statement-download.ts). */
export interface StatementFileStream {
  sha256: string;
  bytes: number;
  line_count: number;
  /** The records, read again line by line from the verified spool. */
  records(): AsyncIterable<StatementRecord>;
  /** Removes the spool; call it once done with the records. */
  dispose(): Promise<void>;
}
export type StatementResult = Outcome<{ settlement_date: string; file: StatementFileStream }>;

export type ChannelNotification =
  | { kind: "txn_result"; notification_id: string; txn_kind: "pay" | "refund"; txn_id: string; outcome: MoneyResult }
  | { kind: "agreement_unbound"; notification_id: string; agreement_no: string; card_last4: string; unbound_at: string };

/** What to answer the network's HTTP request with. */
export interface HttpAck {
  status: number;
  content_type: string;
  body: string;
}

export type NotificationRejection = "unsigned" | "invalid_signature" | "unknown_key" | "stale" | "replayed" | "malformed";
export type NotificationParse =
  | { ok: true; notification: ChannelNotification; ack: HttpAck }
  | { ok: false; error: NotificationRejection; message: string; ack: HttpAck };

/**
 * A notification decoded, its signer known and its send time fresh, but its signature not yet
 * checked (src/api/routes/callbacks.ts). `unverified` may only be compared with an outcome paycore
 * has already recorded, never used to change, log or count anything; `verify` finishes what
 * parseNotification does (signature, freshness, replay) on what was already decoded.
 */
export interface NotificationInspection {
  /** null when the message is stale or not a notification the adapter understands. */
  unverified: ChannelNotification | null;
  /** The ack of an accepted notification. */
  ack: HttpAck;
  verify(): NotificationParse;
}

export interface ChannelAdapter {
  readonly channel_id: AgreementChannelId;
  readonly capabilities: ChannelCapabilities;
  signApply(request: SignApplyRequest): Promise<SignApplyResult>;
  resendOtp(request: ResendOtpRequest): Promise<ResendOtpResult>;
  signConfirm(request: SignConfirmRequest): Promise<SignedResult>;
  signSync(request: SignSyncRequest): Promise<SignedResult>;
  pay(request: PayRequest): Promise<MoneyResult>;
  refund(request: RefundRequest): Promise<MoneyResult>;
  query(request: QueryRequest): Promise<QueryResult>;
  unbind(request: UnbindRequest): Promise<UnbindResult>;
  /** Verifies and decodes what the network POSTed to paycore's callback. Never throws. */
  parseNotification(input: { body: string; content_type?: string | undefined }): NotificationParse;
  /** parseNotification in two steps, for adapters that can decode before verifying. Never throws. */
  inspectNotification?(input: { body: string; content_type?: string | undefined }): NotificationInspection;
  fetchStatement(request: StatementRequest): Promise<StatementResult>;
}
