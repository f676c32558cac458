/** Risk tables (migration 1000_risk.sql). */

export type RuleSubject = "payment" | "signing";
export type RuleKind = "velocity" | "amount" | "first_payment";
export type RuleScope = "card" | "id_holder" | "merchant" | "phone";
export type RuleAction = "reject" | "review";
export type RuleMode = "enforce" | "shadow";

export interface RiskRuleRow {
  rule_id: string;
  name: string;
  applies_to: RuleSubject;
  kind: RuleKind;
  scope: RuleScope;
  max_count: number | null;
  max_amount: bigint | null;
  window_seconds: number;
  action: RuleAction;
  mode: RuleMode;
  merchant_id: string | null;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

export type BlocklistKind = "card_number" | "id_number" | "phone";

export interface RiskBlocklistRow {
  entry_id: string;
  kind: BlocklistKind;
  fingerprint: string;
  /** What an operator may see of the value: a masked form (last digits). */
  hint: string;
  reason: string | null;
  created_by: string;
  created_at: Date;
}

export type DecisionOutcome = "allow" | "review" | "reject";

export interface RiskDecisionRow {
  decision_id: string;
  subject: RuleSubject;
  merchant_id: string;
  payment_id: string | null;
  /** out_trade_no of the payment or out_request_no of the signing. */
  reference: string;
  card_id: string;
  amount: bigint | null;
  outcome: DecisionOutcome;
  rules_evaluated: number;
  fired: unknown;
  created_at: Date;
}

export interface RiskSigningRow {
  signing_id: string;
  merchant_id: string;
  card_id: string;
  id_fingerprint: string;
  phone_fingerprint: string;
  created_at: Date;
}

export type AlertKind = "payment_review" | "signing_review" | "merchant_flagged" | "merchant_alert";

export interface RiskAlertRow {
  alert_id: string;
  kind: AlertKind;
  merchant_id: string;
  payment_id: string | null;
  rule_id: string | null;
  message: string;
  status: "open" | "closed";
  created_at: Date;
  closed_at: Date | null;
  closed_by: string | null;
}

export interface RiskMerchantScoreRow {
  merchant_id: string;
  score: number;
  flagged: boolean;
  signals: unknown;
  payments: number;
  window_start: Date;
  window_end: Date;
  run_id: string;
  scored_at: Date;
}

export interface RiskMonitorRunRow {
  run_id: string;
  run_key: string;
  triggered_by: string;
  status: "running" | "done" | "failed";
  merchants: number;
  flagged: number;
  held: number;
  started_at: Date;
  finished_at: Date | null;
}

export interface RiskSettingsRow {
  id: number;
  flag_threshold: number;
  auto_hold_threshold: number | null;
  window_days: number;
  updated_at: Date;
}

export interface RiskTables {
  risk_rules: RiskRuleRow;
  risk_blocklist: RiskBlocklistRow;
  risk_decisions: RiskDecisionRow;
  risk_signings: RiskSigningRow;
  risk_alerts: RiskAlertRow;
  risk_merchant_scores: RiskMerchantScoreRow;
  risk_monitor_runs: RiskMonitorRunRow;
  risk_settings: RiskSettingsRow;
}
