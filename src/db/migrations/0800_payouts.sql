-- Business payouts over the CNAPS rails (HVPS, BEPS, IBPS, bank-direct), deposits into the
-- reserve account, and the ledger accounts and events they post. docs/payouts.md.

CREATE TABLE payout_rails (
  rail           text PRIMARY KEY CHECK (rail IN ('hvps', 'beps', 'ibps', 'bank_direct')),
  enabled        boolean NOT NULL,
  -- Fen per item; NULL = no cap (HVPS). defaults from docs/payouts.md, operator-configurable.
  per_item_max   bigint CHECK (per_item_max IS NULL OR per_item_max > 0),
  -- What one credit costs the institution, in fen: the router prefers the cheapest open rail.
  cost_per_item  bigint NOT NULL CHECK (cost_per_item >= 0),
  updated_at     timestamptz NOT NULL
);
INSERT INTO payout_rails (rail, enabled, per_item_max, cost_per_item, updated_at) VALUES
  ('hvps', true, NULL, 500, now()),
  ('beps', true, 5000000, 50, now()),
  ('ibps', true, 5000000, 30, now()),
  ('bank_direct', true, NULL, 20, now());

CREATE TABLE payout_batches (
  batch_id      text PRIMARY KEY,
  merchant_id   text NOT NULL REFERENCES merchants(merchant_id),
  out_batch_no  text NOT NULL,
  request_hash  text NOT NULL,
  line_count    integer NOT NULL CHECK (line_count BETWEEN 1 AND 1000),
  -- Each line's payout id or error, in order (JSON array).
  results       jsonb NOT NULL,
  created_at    timestamptz NOT NULL,
  UNIQUE (merchant_id, out_batch_no)
);

CREATE TABLE payouts (
  payout_id                 text PRIMARY KEY,
  merchant_id               text NOT NULL REFERENCES merchants(merchant_id),
  out_payout_no             text NOT NULL,
  request_hash              text NOT NULL,
  batch_id                  text REFERENCES payout_batches(batch_id),
  amount                    bigint NOT NULL CHECK (amount > 0),
  fee                       bigint NOT NULL CHECK (fee >= 0),
  currency                  text NOT NULL CHECK (currency = 'CNY'),
  payee_account_name        text NOT NULL,
  -- Sealed with the master key; only the last four digits are kept in clear.
  payee_account_number_enc  text NOT NULL,
  payee_account_last4       text NOT NULL,
  payee_bank_code           text NOT NULL CHECK (payee_bank_code ~ '^\d{12}$'),
  purpose                   text NOT NULL,
  urgency                   text NOT NULL CHECK (urgency IN ('normal', 'urgent')),
  status                    text NOT NULL CHECK (status IN ('queued', 'processing', 'succeeded', 'failed', 'returned')),
  -- The rail it went (or waits to go) by; NULL only while no rail can take it.
  rail                      text CHECK (rail IN ('hvps', 'beps', 'ibps', 'bank_direct')),
  route_reason              text NOT NULL,
  -- The pacs.008 message id: committed before the message leaves, the same on every resend.
  msg_id                    text UNIQUE,
  failure_code              text,
  failure_message           text,
  attempt_count             integer NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
  -- queued: when to route again; processing: when to ask the rail (also the sweeper's lease).
  next_attempt_at           timestamptz,
  created_at                timestamptz NOT NULL,
  updated_at                timestamptz NOT NULL,
  succeeded_at              timestamptz,
  returned_at               timestamptz,
  UNIQUE (merchant_id, out_payout_no),
  CHECK (status <> 'processing' OR (msg_id IS NOT NULL AND rail IS NOT NULL))
);
CREATE INDEX payouts_due_idx ON payouts (next_attempt_at) WHERE status IN ('queued', 'processing');
CREATE INDEX payouts_merchant_idx ON payouts (merchant_id, payout_id);
CREATE INDEX payouts_status_idx ON payouts (status, payout_id);

CREATE TABLE deposits (
  deposit_id                text PRIMARY KEY,
  -- The rail's entry reference: one deposit per incoming credit, however often it is announced.
  entry_ref                 text NOT NULL UNIQUE,
  -- The merchant ID the payer named; NULL when it names none that exists.
  merchant_id               text REFERENCES merchants(merchant_id),
  amount                    bigint NOT NULL CHECK (amount > 0),
  payer_account_name        text NOT NULL,
  payer_account_number_enc  text NOT NULL,
  payer_account_last4       text NOT NULL,
  payer_bank_code           text NOT NULL,
  status                    text NOT NULL CHECK (status IN ('credited', 'returning', 'returned')),
  failure_code              text,
  return_msg_id             text UNIQUE,
  next_attempt_at           timestamptz,
  created_at                timestamptz NOT NULL,
  updated_at                timestamptz NOT NULL,
  returned_at               timestamptz
);
CREATE INDEX deposits_merchant_idx ON deposits (merchant_id, deposit_id);
CREATE INDEX deposits_returning_idx ON deposits (next_attempt_at) WHERE status = 'returning';

-- Ledger: money on its way out by a rail, what each rail has taken, deposits not yet applied.
-- (Helpers redefining these lists later: keep every value.)
ALTER TABLE ledger_accounts DROP CONSTRAINT IF EXISTS ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check CHECK (kind IN (
  'reserve_funds', 'network_receivable', 'network_cost', 'fee_income',
  'settlement_in_transit', 'merchant_pending', 'merchant_available',
  'payouts_in_transit', 'rail_settlement', 'deposits_unapplied'));
ALTER TABLE journal_entries DROP CONSTRAINT IF EXISTS journal_entries_event_type_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_event_type_check CHECK (event_type IN (
  'payment_succeeded', 'refund_succeeded', 'network_settled',
  'settlement_matured', 'payout_instructed', 'payout_succeeded', 'payout_failed',
  'payout_reserved', 'payout_settled', 'payout_released', 'payout_returned',
  'deposit_credited', 'deposit_received', 'deposit_returned'));
ALTER TABLE notify_events DROP CONSTRAINT IF EXISTS notify_events_type_check;
ALTER TABLE notify_events ADD CONSTRAINT notify_events_type_check CHECK (type IN (
  'payment.succeeded', 'payment.failed', 'refund.succeeded', 'refund.failed',
  'agreement.signed', 'agreement.unbound', 'payout.succeeded', 'payout.failed',
  'payout.returned', 'deposit.credited'));
