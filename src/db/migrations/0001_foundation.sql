-- Foundation: merchant entities, merchant IDs, products, API keys, operators, audit log,
-- and the Open API edge's nonce and idempotency stores.

CREATE SEQUENCE payment_account_seq START 1;

CREATE TABLE entities (
  entity_id           text PRIMARY KEY,
  legal_name          text NOT NULL,
  uscc                text NOT NULL UNIQUE,
  -- The entity's payment account (支付账户): a ledger identity, never a settlement account.
  payment_account_no  text NOT NULL UNIQUE,
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL
);

CREATE TABLE merchants (
  merchant_id               text PRIMARY KEY,
  entity_id                 text NOT NULL REFERENCES entities(entity_id),
  parent_merchant_id        text REFERENCES merchants(merchant_id),
  name                      text NOT NULL,
  business_category         text NOT NULL,
  risk_level                text NOT NULL CHECK (risk_level IN ('low', 'medium', 'high')),
  status                    text NOT NULL CHECK (status IN ('active', 'suspended')),
  notify_url                text,
  require_own_confirmation  boolean NOT NULL,
  -- Settlement account (结算账户): the bank account this merchant ID is paid out to.
  settlement_mode           text NOT NULL CHECK (settlement_mode IN ('own', 'parent')),
  settlement_cycle_days     integer NOT NULL CHECK (settlement_cycle_days BETWEEN 0 AND 30),
  settlement_account_name   text,
  settlement_account_number_enc text,
  settlement_account_last4  text,
  settlement_bank_code      text,
  card_daily_amount         bigint CHECK (card_daily_amount > 0),
  card_daily_count          integer CHECK (card_daily_count > 0),
  merchant_daily_amount     bigint CHECK (merchant_daily_amount > 0),
  is_demo                   boolean NOT NULL DEFAULT false,
  created_at                timestamptz NOT NULL,
  updated_at                timestamptz NOT NULL,
  CHECK (parent_merchant_id IS NULL OR parent_merchant_id <> merchant_id),
  CHECK (settlement_mode = 'parent' OR settlement_account_number_enc IS NOT NULL),
  CHECK (settlement_mode = 'own' OR parent_merchant_id IS NOT NULL)
);
CREATE INDEX merchants_entity_idx ON merchants (entity_id);
CREATE INDEX merchants_parent_idx ON merchants (parent_merchant_id);

CREATE TABLE merchant_products (
  merchant_id   text NOT NULL REFERENCES merchants(merchant_id),
  product       text NOT NULL CHECK (product IN ('agreement_pay', 'payout')),
  fee_rate_bps  integer NOT NULL CHECK (fee_rate_bps BETWEEN 0 AND 10000),
  fee_min       bigint NOT NULL CHECK (fee_min >= 0),
  PRIMARY KEY (merchant_id, product)
);

CREATE TABLE api_keys (
  key_id        text PRIMARY KEY,
  merchant_id   text NOT NULL REFERENCES merchants(merchant_id),
  secret_enc    text NOT NULL,
  status        text NOT NULL CHECK (status IN ('active', 'revoked')),
  created_at    timestamptz NOT NULL,
  -- Set when the key is rotated out: it keeps working until then (grace period).
  expires_at    timestamptz,
  revoked_at    timestamptz
);
CREATE INDEX api_keys_merchant_idx ON api_keys (merchant_id);

CREATE TABLE operators (
  operator_id   text PRIMARY KEY,
  name          text NOT NULL,
  role          text NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
  token_hash    text NOT NULL UNIQUE,
  status        text NOT NULL CHECK (status IN ('active', 'disabled')),
  created_at    timestamptz NOT NULL
);

CREATE TABLE audit_log (
  audit_id      text PRIMARY KEY,
  operator_id   text NOT NULL,
  action        text NOT NULL,
  target_type   text NOT NULL,
  target_id     text NOT NULL,
  before        jsonb,
  after         jsonb,
  request_id    text NOT NULL,
  created_at    timestamptz NOT NULL
);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id);

CREATE TABLE api_nonces (
  merchant_id   text NOT NULL,
  nonce         text NOT NULL,
  expires_at    timestamptz NOT NULL,
  PRIMARY KEY (merchant_id, nonce)
);
CREATE INDEX api_nonces_expiry_idx ON api_nonces (expires_at);

CREATE TABLE idempotency_keys (
  merchant_id     text NOT NULL,
  idem_key        text NOT NULL,
  request_hash    text NOT NULL,
  state           text NOT NULL CHECK (state IN ('in_progress', 'done')),
  response_status integer,
  response_body   text,
  created_at      timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL,
  PRIMARY KEY (merchant_id, idem_key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);
