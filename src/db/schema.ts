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

// Each capability adds its own `…Tables` interface to this intersection.
export type Database = FoundationTables;
