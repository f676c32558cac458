-- Settlement: one record per merchant ID and settlement date, payout instructions to
-- settlement accounts (one per payee and run batch), and settlement holds.

CREATE TABLE settlement_payouts (
  instruction_id       text PRIMARY KEY,
  -- The merchant ID whose settlement account receives the money (a group's parent in mode 'parent').
  payee_merchant_id    text NOT NULL,
  settlement_date      text NOT NULL CHECK (settlement_date ~ '^\d{4}-\d{2}-\d{2}$'),
  batch_no             integer NOT NULL CHECK (batch_no >= 1),
  amount               bigint NOT NULL CHECK (amount > 0),
  account_name         text NOT NULL,
  -- Sealed under the payee's AAD `settlement_account:<payee_merchant_id>`, as on merchants.
  account_number_enc   text NOT NULL,
  account_last4        text NOT NULL,
  bank_code            text NOT NULL,
  status               text NOT NULL CHECK (status IN ('created', 'pending', 'succeeded', 'failed')),
  failure_reason       text,
  attempt_count        integer NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL,
  updated_at           timestamptz NOT NULL,
  finished_at          timestamptz,
  UNIQUE (payee_merchant_id, settlement_date, batch_no)
);
CREATE INDEX settlement_payouts_open_idx ON settlement_payouts (status) WHERE status IN ('created', 'pending');
CREATE INDEX settlement_payouts_date_idx ON settlement_payouts (settlement_date);

CREATE TABLE settlements (
  settlement_id          text PRIMARY KEY,
  merchant_id            text NOT NULL,
  settlement_date        text NOT NULL CHECK (settlement_date ~ '^\d{4}-\d{2}-\d{2}$'),
  payee_merchant_id      text NOT NULL,
  cycle_days             integer NOT NULL,
  -- The last business date whose items this record took (window end).
  covers_through         text NOT NULL CHECK (covers_through ~ '^\d{4}-\d{2}-\d{2}$'),
  item_count             integer NOT NULL CHECK (item_count >= 0),
  gross                  bigint NOT NULL CHECK (gross >= 0),
  -- Fees charged less fees returned on refunds (may be negative on a refund-only day).
  fees                   bigint NOT NULL,
  refunds                bigint NOT NULL CHECK (refunds >= 0),
  -- A previous negative net carried into this one (0 or negative).
  carried_in             bigint NOT NULL CHECK (carried_in <= 0),
  net                    bigint NOT NULL,
  status                 text NOT NULL CHECK (status IN (
                           'carried_forward', 'nothing_to_pay', 'held', 'awaiting_payout',
                           'in_transit', 'paid', 'payout_failed')),
  payout_instruction_id  text REFERENCES settlement_payouts(instruction_id),
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL,
  UNIQUE (merchant_id, settlement_date),
  CHECK (net = gross - fees - refunds + carried_in),
  CHECK ((status = 'carried_forward') = (net < 0)),
  CHECK (status <> 'nothing_to_pay' OR net = 0),
  CHECK ((status IN ('in_transit', 'paid')) <= (payout_instruction_id IS NOT NULL))
);
CREATE INDEX settlements_payout_idx ON settlements (payout_instruction_id);
CREATE INDEX settlements_payable_idx ON settlements (merchant_id) WHERE status IN ('held', 'awaiting_payout', 'payout_failed');
CREATE INDEX settlements_date_idx ON settlements (settlement_date);

-- Which settlement records an instruction paid, kept for good (a record whose payout failed is
-- paid again by a later instruction; both keep their rows).
CREATE TABLE settlement_payout_items (
  instruction_id  text NOT NULL REFERENCES settlement_payouts(instruction_id),
  settlement_id   text NOT NULL REFERENCES settlements(settlement_id),
  merchant_id     text NOT NULL,
  amount          bigint NOT NULL CHECK (amount > 0),
  PRIMARY KEY (instruction_id, settlement_id)
);
CREATE INDEX settlement_payout_items_settlement_idx ON settlement_payout_items (settlement_id);

-- A merchant ID whose settlement is held (risk): matured money stays available, not paid out.
CREATE TABLE settlement_holds (
  merchant_id  text PRIMARY KEY,
  reason       text NOT NULL,
  created_at   timestamptz NOT NULL
);
