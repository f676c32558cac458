-- Risk: pre-payment and signing rules, blocklists (keyed fingerprints only), the decisions the
-- rules took, alerts, and merchant monitoring scores.

-- Rules are data: operators add and change them at run time; every payment reads the ones that
-- apply with one indexed query, so a change takes effect on the next payment in every process.
CREATE TABLE risk_rules (
  rule_id         text PRIMARY KEY,
  name            text NOT NULL,
  -- payment: checked before a payment intent is recorded; signing: before a signing starts.
  applies_to      text NOT NULL CHECK (applies_to IN ('payment', 'signing')),
  kind            text NOT NULL CHECK (kind IN ('velocity', 'amount', 'first_payment')),
  scope           text NOT NULL CHECK (scope IN ('card', 'id_holder', 'merchant', 'phone')),
  max_count       integer CHECK (max_count > 0),
  max_amount      bigint CHECK (max_amount > 0),
  window_seconds  integer NOT NULL CHECK (window_seconds > 0 AND window_seconds <= 2678400),
  action          text NOT NULL CHECK (action IN ('reject', 'review')),
  mode            text NOT NULL CHECK (mode IN ('enforce', 'shadow')),
  merchant_id     text REFERENCES merchants(merchant_id),
  enabled         boolean NOT NULL DEFAULT true,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  CHECK (max_count IS NOT NULL OR max_amount IS NOT NULL)
);
CREATE INDEX risk_rules_applies_idx ON risk_rules (applies_to, merchant_id) WHERE enabled;

-- Blocked card numbers, ID numbers and phones: only their keyed fingerprints (the same HMAC the
-- card vault uses), never the values.
CREATE TABLE risk_blocklist (
  entry_id     text PRIMARY KEY,
  kind         text NOT NULL CHECK (kind IN ('card_number', 'id_number', 'phone')),
  fingerprint  text NOT NULL,
  hint         text NOT NULL,
  reason       text,
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL,
  UNIQUE (kind, fingerprint)
);
CREATE INDEX risk_blocklist_fingerprint_idx ON risk_blocklist (fingerprint);

-- What the rules decided for a payment or a signing, with the rules that fired and their figures.
CREATE TABLE risk_decisions (
  decision_id   text PRIMARY KEY,
  subject       text NOT NULL CHECK (subject IN ('payment', 'signing')),
  merchant_id   text NOT NULL,
  payment_id    text,
  reference     text NOT NULL,
  card_id       text NOT NULL,
  amount        bigint,
  outcome       text NOT NULL CHECK (outcome IN ('allow', 'review', 'reject')),
  rules_evaluated integer NOT NULL,
  fired         jsonb NOT NULL,
  created_at    timestamptz NOT NULL
);
CREATE INDEX risk_decisions_payment_idx ON risk_decisions (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX risk_decisions_merchant_idx ON risk_decisions (merchant_id, decision_id);

-- One row per signing attempt that passed the rules: the signing counters count these rows
-- (per ID holder, phone, card or merchant ID) instead of updating a shared counter row.
CREATE TABLE risk_signings (
  signing_id         text PRIMARY KEY,
  merchant_id        text NOT NULL,
  card_id            text NOT NULL,
  id_fingerprint     text NOT NULL,
  phone_fingerprint  text NOT NULL,
  created_at         timestamptz NOT NULL
);
CREATE INDEX risk_signings_id_idx ON risk_signings (id_fingerprint, created_at);
CREATE INDEX risk_signings_phone_idx ON risk_signings (phone_fingerprint, created_at);
CREATE INDEX risk_signings_card_idx ON risk_signings (card_id, created_at);
CREATE INDEX risk_signings_merchant_idx ON risk_signings (merchant_id, created_at);

-- Payment counters per ID holder and per merchant ID count payment rows through these indexes
-- (per card: payments_card_day_idx).
CREATE INDEX payments_merchant_created_idx ON payments (merchant_id, created_at);
CREATE INDEX cards_id_fingerprint_idx ON cards (id_fingerprint);

-- Alerts for operators: a payment a review rule let through, a merchant ID the monitor flagged.
CREATE TABLE risk_alerts (
  alert_id      text PRIMARY KEY,
  kind          text NOT NULL CHECK (kind IN ('payment_review', 'signing_review', 'merchant_flagged', 'merchant_alert')),
  merchant_id   text NOT NULL,
  payment_id    text,
  rule_id       text,
  message       text NOT NULL,
  status        text NOT NULL CHECK (status IN ('open', 'closed')),
  created_at    timestamptz NOT NULL,
  closed_at     timestamptz,
  closed_by     text
);
CREATE INDEX risk_alerts_open_idx ON risk_alerts (status, alert_id);

-- The monitor's latest score per merchant ID, with its signals.
CREATE TABLE risk_merchant_scores (
  merchant_id   text PRIMARY KEY REFERENCES merchants(merchant_id),
  score         integer NOT NULL CHECK (score BETWEEN 0 AND 100),
  flagged       boolean NOT NULL,
  signals       jsonb NOT NULL,
  payments      integer NOT NULL,
  window_start  timestamptz NOT NULL,
  window_end    timestamptz NOT NULL,
  run_id        text NOT NULL,
  scored_at     timestamptz NOT NULL
);
CREATE INDEX risk_merchant_scores_flagged_idx ON risk_merchant_scores (flagged, score);

-- Monitor runs; `run_key` makes the hourly run happen once across processes.
CREATE TABLE risk_monitor_runs (
  run_id        text PRIMARY KEY,
  run_key       text NOT NULL UNIQUE,
  triggered_by  text NOT NULL,
  status        text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  merchants     integer NOT NULL DEFAULT 0,
  flagged       integer NOT NULL DEFAULT 0,
  held          integer NOT NULL DEFAULT 0,
  started_at    timestamptz NOT NULL,
  finished_at   timestamptz
);

-- Monitor settings, one row.
CREATE TABLE risk_settings (
  id                   integer PRIMARY KEY CHECK (id = 1),
  flag_threshold       integer NOT NULL CHECK (flag_threshold BETWEEN 1 AND 100),
  auto_hold_threshold  integer CHECK (auto_hold_threshold BETWEEN 1 AND 100),
  window_days          integer NOT NULL CHECK (window_days BETWEEN 1 AND 31),
  updated_at           timestamptz NOT NULL
);
INSERT INTO risk_settings (id, flag_threshold, auto_hold_threshold, window_days, updated_at) VALUES (1, 40, NULL, 7, now());
