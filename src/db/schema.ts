import type { ColumnType, Generated } from "kysely";
import type { ChannelTables } from "../channels/rows.ts";
import type { RiskTables } from "../risk/rows.ts";

/**
 * Database rows. Each capability declares its tables here (rows are their own types, separate
 * from domain and wire models). Money columns are `bigint` on both engines.
 */
export interface EntityRow {
  entity_id: string;
  legal_name: string;
  uscc: string;
  payment_account_no: string;
  created_at: Date;
  updated_at: Date;
}

export interface MerchantRow {
  merchant_id: string;
  entity_id: string;
  parent_merchant_id: string | null;
  name: string;
  business_category: string;
  risk_level: "low" | "medium" | "high";
  status: "active" | "suspended";
  notify_url: string | null;
  require_own_confirmation: boolean;
  /** Reuse of a card signed at another entity needs no code of the cardholder's (admin's call). */
  trusted_for_silent_reuse: boolean;
  settlement_mode: "own" | "parent";
  settlement_cycle_days: number;
  settlement_account_name: string | null;
  settlement_account_number_enc: string | null;
  settlement_account_last4: string | null;
  settlement_bank_code: string | null;
  card_daily_amount: bigint | null;
  card_daily_count: number | null;
  merchant_daily_amount: bigint | null;
  is_demo: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface MerchantProductRow {
  merchant_id: string;
  product: "agreement_pay" | "payout";
  fee_rate_bps: number;
  fee_min: bigint;
}

export interface ApiKeyRow {
  key_id: string;
  merchant_id: string;
  secret_enc: string;
  status: "active" | "revoked";
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
}

export interface OperatorRow {
  operator_id: string;
  name: string;
  role: "admin" | "operator" | "auditor";
  token_hash: string;
  status: "active" | "disabled";
  created_at: Date;
}

export interface AuditLogRow {
  audit_id: string;
  operator_id: string;
  action: string;
  target_type: string;
  target_id: string;
  before: unknown;
  after: unknown;
  request_id: string;
  created_at: Date;
}

export interface ApiNonceRow {
  merchant_id: string;
  nonce: string;
  expires_at: Date;
}

export interface IdempotencyKeyRow {
  merchant_id: string;
  idem_key: string;
  request_hash: string;
  state: "in_progress" | "done";
  response_status: number | null;
  response_body: string | null;
  created_at: Date;
  expires_at: Date;
}

export interface FoundationTables {
  entities: EntityRow;
  merchants: MerchantRow;
  merchant_products: MerchantProductRow;
  api_keys: ApiKeyRow;
  operators: OperatorRow;
  audit_log: AuditLogRow;
  api_nonces: ApiNonceRow;
  idempotency_keys: IdempotencyKeyRow;
}

// ---- four-eyes proposals (migration 0620) ----

export interface ProposalRow {
  proposal_id: string;
  kind: string;
  target_type: string;
  target_id: string;
  payload_enc: string;
  summary: unknown;
  status: "pending" | "approved" | "rejected";
  proposed_by: string;
  proposed_at: Date;
  decided_by: string | null;
  decided_at: Date | null;
  decision_note: string | null;
  result: unknown;
}

export interface ProposalTables {
  proposals: ProposalRow;
}

export type NotifyEventType =
  | "payment.succeeded"
  | "payment.failed"
  | "refund.succeeded"
  | "refund.failed"
  | "agreement.signed"
  | "agreement.unbound"
  | "payout.succeeded"
  | "payout.failed"
  | "payout.returned"
  | "deposit.credited";

export interface NotifyEventRow {
  event_id: string;
  merchant_id: string;
  type: NotifyEventType;
  data: unknown;
  notify_url: string | null;
  dedupe_key: string | null;
  status: "pending" | "delivered" | "failed" | "no_url";
  created_at: Date;
  delivered_at: Date | null;
  updated_at: Date;
}

export interface NotifyDeliveryRow {
  delivery_id: string;
  event_id: string;
  merchant_id: string;
  url: string;
  origin: "initial" | "redeliver";
  status: "pending" | "succeeded" | "failed";
  attempt_count: number;
  next_attempt_at: Date;
  lease_until: Date | null;
  created_at: Date;
  finished_at: Date | null;
  updated_at: Date;
}

export type NotifyAttemptResult = "in_flight" | "acknowledged" | "http_error" | "timeout" | "network_error" | "no_key" | "abandoned" | "refused";

export interface NotifyAttemptRow {
  delivery_id: string;
  attempt_no: number;
  event_id: string;
  result: NotifyAttemptResult;
  http_status: number | null;
  error: string | null;
  started_at: Date;
  duration_ms: number | null;
}

export interface NotifyTables {
  notify_events: NotifyEventRow;
  notify_deliveries: NotifyDeliveryRow;
  notify_attempts: NotifyAttemptRow;
}

// Each capability adds its own `…Tables` interface to this intersection.
export type Database = FoundationTables & ProposalTables & PaymentTables & LedgerTables & SettlementTables & NotifyTables & ChannelTables & CampaignTables & RiskTables & PayoutTables & ReconciliationTables;

// ---- agreement payments (migration 0400) ----

export interface CardRow {
  card_id: string;
  card_fingerprint: string;
  card_number_enc: string;
  bin: string;
  last4: string;
  bank_code: string;
  bank_name: string;
  card_type: "debit" | "credit";
  holder_name_enc: string;
  id_number_enc: string;
  id_fingerprint: string;
  phone_enc: string;
  /** Keyed fingerprint of the phone (migration 1701); null on a card stored before it, until filled. */
  phone_fingerprint: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface CardAgreementRow {
  card_agreement_id: string;
  card_id: string;
  channel_id: string;
  network_agreement_no: string;
  verified_elements: string | null;
  origin: "signed" | "synced";
  status: "active" | "unbound";
  created_at: Date;
  unbound_at: Date | null;
  unbound_reason: string | null;
}

export interface AgreementRow {
  agreement_id: string;
  merchant_id: string;
  user_ref: string;
  card_id: string;
  sign_request_id: string | null;
  status: "active" | "unbound";
  created_at: Date;
  unbound_at: Date | null;
  unbound_reason: string | null;
}

export interface SignRequestRow {
  sign_request_id: string;
  merchant_id: string;
  out_request_no: string;
  request_hash: string;
  user_ref: string;
  card_id: string;
  card_elements_enc: string;
  kind: "bank_otp" | "platform_otp" | "reuse";
  purpose: "sign" | "sign_and_pay" | "campaign";
  channel_id: string | null;
  sign_txn_id: string | null;
  status: "applying" | "otp_sent" | "signed" | "failed" | "expired";
  otp_hash: string | null;
  otp_expires_at: Date | null;
  otp_attempts: number;
  otp_sent_count: number;
  last_otp_sent_at: Date;
  failure_code: string | null;
  agreement_id: string | null;
  payment_request: unknown;
  payment_id: string | null;
  expires_at: Date;
  created_at: Date;
  updated_at: Date;
}

export type NetworkState = "intent" | "sent" | "final";

export interface PaymentRow {
  payment_id: string;
  merchant_id: string;
  sub_merchant_id: string | null;
  out_trade_no: string;
  request_hash: string;
  agreement_id: string;
  card_id: string;
  channel_id: string | null;
  card_agreement_id: string | null;
  route_reason: string | null;
  txn_id: string;
  network_txn_id: string | null;
  amount: bigint;
  currency: "CNY";
  fee: bigint | null;
  network_cost: bigint | null;
  status: "processing" | "succeeded" | "failed";
  network_state: NetworkState;
  failure_code: string | null;
  failure_message: string | null;
  description: string;
  metadata: unknown;
  notify_url: string | null;
  refunded_amount: bigint;
  query_attempts: number;
  next_query_at: Date | null;
  alert: boolean;
  created_at: Date;
  updated_at: Date;
  succeeded_at: Date | null;
  failed_at: Date | null;
}

export interface RefundRow {
  refund_id: string;
  payment_id: string;
  merchant_id: string;
  out_refund_no: string;
  request_hash: string;
  amount: bigint;
  reason: string | null;
  status: "processing" | "succeeded" | "failed";
  network_state: NetworkState;
  channel_id: string;
  txn_id: string;
  network_txn_id: string | null;
  failure_code: string | null;
  failure_message: string | null;
  fee_returned: bigint | null;
  query_attempts: number;
  next_query_at: Date | null;
  alert: boolean;
  created_at: Date;
  updated_at: Date;
  succeeded_at: Date | null;
}

export interface PaymentTables {
  cards: CardRow;
  card_agreements: CardAgreementRow;
  agreements: AgreementRow;
  sign_requests: SignRequestRow;
  payments: PaymentRow;
  refunds: RefundRow;
}

// --- Ledger (migration 0200) ---

export type LedgerAccountKind =
  | "reserve_funds"
  | "network_receivable"
  | "network_cost"
  | "fee_income"
  | "settlement_in_transit"
  | "merchant_pending"
  | "merchant_available"
  | "reconciliation_loss"
  | "reconciliation_suspense"
  | "payouts_in_transit"
  | "rail_settlement"
  | "deposits_unapplied";

export interface LedgerAccountRow {
  account_code: string;
  kind: LedgerAccountKind;
  account_type: "asset" | "liability" | "income" | "expense";
  owner_id: string | null;
  debits: bigint;
  credits: bigint;
  created_at: Date;
  updated_at: Date;
}

export type JournalEventType =
  | "payment_succeeded"
  | "refund_succeeded"
  | "network_settled"
  | "settlement_matured"
  | "payout_instructed"
  | "payout_succeeded"
  | "payout_failed"
  | "reconciliation_adjusted"
  | "payout_reserved"
  | "payout_settled"
  | "payout_released"
  | "payout_returned"
  | "deposit_credited"
  | "deposit_received"
  | "deposit_returned";

export interface JournalEntryRow {
  entry_id: string;
  event_key: string;
  event_type: JournalEventType;
  reference_id: string;
  merchant_id: string | null;
  channel_id: string | null;
  effective_at: Date;
  business_date: string;
  posted_at: Date;
  line_count: number;
  amount: bigint;
}

export interface JournalLineRow {
  entry_id: string;
  line_no: number;
  account_code: string;
  side: "debit" | "credit";
  amount: bigint;
  line_kind: string;
  business_date: string;
}

export interface PendingItemRow {
  entry_id: string;
  merchant_id: string;
  item_kind: "payment" | "refund";
  reference_id: string;
  payment_id: string;
  amount: bigint;
  fee: bigint;
  business_date: string;
  settlement_id: string | null;
}

export interface RefundFeePolicyRow {
  scope: string;
  policy: "proportional" | "keep";
  updated_at: Date;
}

/** One step of the cut-off's history (src/ledger/business-day.ts). */
export interface SettlementCutoffRow {
  effective_from: string;
  cutoff_minutes: number;
  created_at: Date;
}

export interface SettlementCalendarDayRow {
  day: string;
  kind: "holiday" | "working";
}

/** Moves with every change of cached configuration (migration 0701, src/db/config-cache.ts). */
export interface ConfigVersionRow {
  singleton: boolean;
  version: bigint;
}

/** Amounts posted but not yet folded into ledger_accounts (migration 0700). */
export interface LedgerUnappliedRow {
  seq: Generated<bigint>;
  account_code: string;
  debits: bigint;
  credits: bigint;
  entry_id: string;
}

export interface LedgerTables {
  ledger_accounts: LedgerAccountRow;
  /** Exact balances: kept totals plus unapplied amounts (a view; read money decisions here). */
  ledger_balances: LedgerAccountRow;
  ledger_unapplied: LedgerUnappliedRow;
  config_version: ConfigVersionRow;
  journal_entries: JournalEntryRow;
  journal_lines: JournalLineRow;
  pending_items: PendingItemRow;
  refund_fee_policies: RefundFeePolicyRow;
  settlement_cutoffs: SettlementCutoffRow;
  settlement_calendar_days: SettlementCalendarDayRow;
}

// --- Settlement (migration 0201) ---

export type SettlementStatus = "carried_forward" | "nothing_to_pay" | "held" | "awaiting_payout" | "in_transit" | "paid" | "payout_failed";

export interface SettlementRow {
  settlement_id: string;
  merchant_id: string;
  settlement_date: string;
  payee_merchant_id: string;
  cycle_days: number;
  covers_through: string;
  item_count: number;
  gross: bigint;
  fees: bigint;
  refunds: bigint;
  carried_in: bigint;
  net: bigint;
  status: SettlementStatus;
  payout_instruction_id: string | null;
  created_at: Date;
  updated_at: Date;
}

/** `pending`: its payout is open (queued or processing); then as the payout ended (migration 1410 adds `returned`). */
export type SettlementPayoutStatus = "created" | "pending" | "succeeded" | "failed" | "returned";

export interface SettlementPayoutRow {
  instruction_id: string;
  payee_merchant_id: string;
  settlement_date: string;
  batch_no: number;
  amount: bigint;
  account_name: string;
  account_number_enc: string;
  account_last4: string;
  bank_code: string;
  status: SettlementPayoutStatus;
  failure_reason: string | null;
  attempt_count: number;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

export interface SettlementPayoutItemRow {
  instruction_id: string;
  settlement_id: string;
  merchant_id: string;
  amount: bigint;
}

export interface SettlementHoldRow {
  merchant_id: string;
  reason: string;
  created_at: Date;
}

/** A settlement run's progress and outcome (migration 1410). */
export interface SettlementRunRow {
  run_id: string;
  settlement_date: string;
  status: "running" | "done" | "failed";
  phase: "settle" | "payout" | "done";
  done: number;
  total: number;
  operator_id: string | null;
  records_created: number;
  payouts_created: number;
  amount_instructed: bigint;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
  updated_at: Date;
}

export interface SettlementTables {
  settlement_runs: SettlementRunRow;
  settlements: SettlementRow;
  settlement_payouts: SettlementPayoutRow;
  settlement_payout_items: SettlementPayoutItemRow;
  settlement_holds: SettlementHoldRow;
}

// ---- batch signing campaigns (migration 0500) ----

export type InvitationStatus = "invited" | "opened" | "signed" | "failed" | "expired";

export interface AgreementCampaignRow {
  campaign_id: string;
  merchant_id: string;
  out_campaign_no: string;
  request_hash: string;
  invitation_count: number;
  link_ttl_hours: number;
  links_expire_at: Date;
  public_base_url: string;
  created_at: Date;
}

export interface CampaignInvitationRow {
  invitation_id: string;
  campaign_id: string;
  merchant_id: string;
  position: number;
  user_ref: string;
  holder_name_enc: string;
  phone_enc: string;
  phone_last4: string;
  token_hash: string;
  status: InvitationStatus;
  sign_attempts: number;
  sign_request_id: string | null;
  agreement_id: string | null;
  failure_code: string | null;
  sms_status: "pending" | "sent" | "failed";
  sms_attempts: number;
  sms_next_at: Date | null;
  sms_error: string | null;
  expires_at: Date;
  opened_at: Date | null;
  signed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface CampaignTables {
  agreement_campaigns: AgreementCampaignRow;
  campaign_invitations: CampaignInvitationRow;
}

// --- Reconciliation (migration 0900) ---

export type ReconciliationResult = "matched" | "network_only" | "platform_only" | "amount_mismatch" | "status_mismatch" | "fee_mismatch";
export type ExceptionKind = Exclude<ReconciliationResult, "matched">;
export type ExceptionStatus = "buffered" | "open" | "resolved";
export type ExceptionResolution = "accept_network" | "refund" | "write_off" | "requery" | "auto_query" | "matched_late";

export interface ReconciliationRow {
  reconciliation_id: string;
  channel_id: string;
  settlement_date: string;
  status: "running" | "done";
  file_sha256: string | null;
  line_count: number;
  file_net: bigint;
  run_count: number;
  settled_amount: bigint | null;
  settled_at: Date | null;
  started_at: Date;
  finished_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** The table: a run's row and the progress of its current or last attempt (migration 1410), optional on insert. */
export interface ReconciliationTableRow extends ReconciliationRow {
  progress_phase: ColumnType<string | null, string | null | undefined, string | null>;
  progress_done: ColumnType<number, number | undefined, number>;
  progress_total: ColumnType<number | null, number | null | undefined, number | null>;
  progress_error: ColumnType<string | null, string | null | undefined, string | null>;
  progress_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface ReconciliationResultRow {
  reconciliation_id: string;
  result: ReconciliationResult | "buffered";
  item_count: bigint;
  network_amount: bigint;
  platform_amount: bigint;
}

export interface ReconciliationLineRow {
  reconciliation_id: string;
  line_no: number;
  kind: "pay" | "refund";
  network_txn_id: string;
  txn_id: string;
  order_id: string;
  amount: bigint;
  fee: bigint;
  settle_amount: bigint;
  /** The line's result as loaded (an exception recorded since takes precedence); NULL before migration 1351. */
  result: ReconciliationResult | null;
  /** paycore's amount for the line (payment, refund or payout), NULL when paycore has none. */
  platform_amount: bigint | null;
}

export interface ReconciliationExceptionRow {
  exception_id: string;
  reconciliation_id: string;
  channel_id: string;
  settlement_date: string;
  kind: ExceptionKind;
  match_key: string;
  status: ExceptionStatus;
  payment_id: string | null;
  refund_id: string | null;
  payout_id: string | null;
  network_txn_id: string | null;
  txn_id: string | null;
  record_kind: "pay" | "refund";
  platform_amount: bigint | null;
  network_amount: bigint | null;
  platform_fee: bigint | null;
  network_fee: bigint | null;
  network_settle: bigint | null;
  platform_status: string | null;
  due_date: string | null;
  resolution: ExceptionResolution | null;
  resolution_note: string | null;
  resolved_by: string | null;
  resolved_at: Date | null;
  pending_action: string | null;
  action_txn_id: string | null;
  proposal_id: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface ReconciliationAlertRow {
  alert_id: string;
  channel_id: string;
  settlement_date: string;
  kind: "file_late" | "file_missing" | "file_refused" | "settlement_mismatch";
  message: string;
  occurrences: number;
  created_at: Date;
  updated_at: Date;
}

export interface ReconciliationSettingsRow {
  channel_id: string;
  enabled: boolean;
  cutoff_minutes: number;
  file_ready_minutes: number;
  file_late_minutes: number;
  near_cutoff_minutes: number;
  buffer_business_days: number;
  write_off_four_eyes_min: bigint;
  updated_at: Date;
}

export interface ReconciliationTables {
  reconciliations: ReconciliationTableRow;
  reconciliation_results: ReconciliationResultRow;
  reconciliation_lines: ReconciliationLineRow;
  reconciliation_exceptions: ReconciliationExceptionRow;
  reconciliation_alerts: ReconciliationAlertRow;
  reconciliation_settings: ReconciliationSettingsRow;
}

export type PayoutRailId = "hvps" | "beps" | "ibps" | "bank_direct";

export interface PayoutRailRow {
  rail: PayoutRailId;
  enabled: boolean;
  per_item_max: bigint | null;
  cost_per_item: bigint;
  updated_at: Date;
}

export interface PayoutBatchRow {
  batch_id: string;
  merchant_id: string;
  out_batch_no: string;
  request_hash: string;
  line_count: number;
  results: unknown;
  created_at: Date;
}

/** An operator's payout batch import awaiting, or done after, a second admin's approval (migration 1901). */
export interface PayoutBatchImportRow {
  import_id: string;
  merchant_id: string;
  out_batch_no: string;
  request_hash: string;
  lines_enc: string | null;
  line_count: number;
  total_amount: bigint;
  proposal_id: string | null;
  status: "proposed" | "approved" | "done" | "refused";
  batch_id: string | null;
  lease_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

export type PayoutStatus = "queued" | "processing" | "succeeded" | "failed" | "returned";

export interface PayoutRow {
  payout_id: string;
  merchant_id: string;
  out_payout_no: string;
  request_hash: string;
  batch_id: string | null;
  amount: bigint;
  fee: bigint;
  currency: "CNY";
  payee_account_name: string;
  payee_account_number_enc: string;
  payee_account_last4: string;
  payee_bank_code: string;
  purpose: string;
  urgency: "normal" | "urgent";
  status: PayoutStatus;
  rail: PayoutRailId | null;
  route_reason: string;
  msg_id: string | null;
  failure_code: string | null;
  failure_message: string | null;
  attempt_count: number;
  /** Not final after the whole query schedule: operators look (the sweeper keeps asking). */
  alert: boolean;
  next_attempt_at: Date | null;
  created_at: Date;
  updated_at: Date;
  succeeded_at: Date | null;
  returned_at: Date | null;
  /** A settlement payout: the instruction it pays (migration 1410); null for a business payout. */
  settlement_instruction_id: string | null;
}

export interface DepositRow {
  deposit_id: string;
  entry_ref: string;
  merchant_id: string | null;
  amount: bigint;
  payer_account_name: string;
  payer_account_number_enc: string;
  payer_account_last4: string;
  payer_bank_code: string;
  status: "credited" | "returning" | "returned";
  failure_code: string | null;
  return_msg_id: string | null;
  next_attempt_at: Date | null;
  created_at: Date;
  updated_at: Date;
  returned_at: Date | null;
}

export interface PayoutTables {
  payout_rails: PayoutRailRow;
  payout_batches: PayoutBatchRow;
  payout_batch_imports: PayoutBatchImportRow;
  payouts: PayoutRow;
  deposits: DepositRow;
}
