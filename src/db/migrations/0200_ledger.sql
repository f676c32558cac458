-- Double-entry ledger: accounts with kept balances, an append-only journal, the items each
-- merchant ID's pending balance is made of, and fee and calendar configuration.
-- docs/ledger.md describes the chart of accounts and every posting.

CREATE TABLE ledger_accounts (
  -- Deterministic code: 'reserve_funds', 'merchant_pending:mch_…', 'network_receivable:netsunion', …
  account_code  text PRIMARY KEY,
  kind          text NOT NULL CHECK (kind IN (
                  'reserve_funds', 'network_receivable', 'network_cost', 'fee_income',
                  'settlement_in_transit', 'merchant_pending', 'merchant_available')),
  account_type  text NOT NULL CHECK (account_type IN ('asset', 'liability', 'income', 'expense')),
  -- The merchant ID or channel the account belongs to; NULL for platform-wide accounts.
  owner_id      text,
  -- Kept for speed; always equal to the sums of this account's journal lines (`paycore ledger check`).
  debits        bigint NOT NULL DEFAULT 0 CHECK (debits >= 0),
  credits       bigint NOT NULL DEFAULT 0 CHECK (credits >= 0),
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  CHECK (owner_id IS NULL OR account_code = kind || ':' || owner_id),
  CHECK (owner_id IS NOT NULL OR account_code = kind),
  -- A merchant's available balance is never negative (liability: credits cover debits).
  CHECK (kind <> 'merchant_available' OR credits >= debits)
);
CREATE INDEX ledger_accounts_owner_idx ON ledger_accounts (owner_id);

CREATE TABLE journal_entries (
  entry_id      text PRIMARY KEY,
  -- One business event, one entry: 'payment_succeeded:pay_…', 'refund_succeeded:ref_…', …
  event_key     text NOT NULL UNIQUE,
  event_type    text NOT NULL CHECK (event_type IN (
                  'payment_succeeded', 'refund_succeeded', 'network_settled',
                  'settlement_matured', 'payout_instructed', 'payout_succeeded', 'payout_failed')),
  reference_id  text NOT NULL,
  merchant_id   text,
  channel_id    text,
  -- When the event happened, and the Beijing business day it belongs to (after the daily cut-off).
  effective_at  timestamptz NOT NULL,
  business_date text NOT NULL CHECK (business_date ~ '^\d{4}-\d{2}-\d{2}$'),
  posted_at     timestamptz NOT NULL,
  line_count    integer NOT NULL CHECK (line_count >= 2),
  amount        bigint NOT NULL CHECK (amount > 0)
);
CREATE INDEX journal_entries_merchant_idx ON journal_entries (merchant_id, business_date);
CREATE INDEX journal_entries_reference_idx ON journal_entries (reference_id);
CREATE INDEX journal_entries_type_idx ON journal_entries (event_type, business_date);

CREATE TABLE journal_lines (
  entry_id      text NOT NULL REFERENCES journal_entries(entry_id),
  line_no       integer NOT NULL CHECK (line_no >= 1),
  account_code  text NOT NULL REFERENCES ledger_accounts(account_code),
  side          text NOT NULL CHECK (side IN ('debit', 'credit')),
  amount        bigint NOT NULL CHECK (amount > 0),
  -- What the line is to the account holder: 'payment', 'fee', 'refund', 'fee_returned', …
  line_kind     text NOT NULL,
  -- The entry's business date, repeated here so an account's day (statements) is one index range.
  business_date text NOT NULL CHECK (business_date ~ '^\d{4}-\d{2}-\d{2}$'),
  PRIMARY KEY (entry_id, line_no)
);
CREATE INDEX journal_lines_account_idx ON journal_lines (account_code, business_date);

-- The journal is append-only: corrections are new entries. The database refuses anything else.
CREATE FUNCTION ledger_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the journal is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_forbid_change();
CREATE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE ON journal_lines
  FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();
CREATE TRIGGER journal_lines_no_truncate BEFORE TRUNCATE ON journal_lines
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_forbid_change();

-- Second line of defence behind the code's own assertion: at commit, every entry touched has
-- at least two lines and its debits equal its credits.
CREATE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  debit_sum bigint;
  credit_sum bigint;
  n integer;
BEGIN
  SELECT coalesce(sum(amount) FILTER (WHERE side = 'debit'), 0),
         coalesce(sum(amount) FILTER (WHERE side = 'credit'), 0),
         count(*)
    INTO debit_sum, credit_sum, n
    FROM journal_lines WHERE entry_id = NEW.entry_id;
  IF n < 2 OR debit_sum <> credit_sum THEN
    RAISE EXCEPTION 'journal entry % is unbalanced: % lines, debits %, credits %', NEW.entry_id, n, debit_sum, credit_sum;
  END IF;
  RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced();
CREATE CONSTRAINT TRIGGER journal_lines_balanced AFTER INSERT ON journal_lines
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced();

-- What a merchant ID's pending balance is made of: one row per payment or refund entry.
-- A settlement takes the matured rows (settlement_id set once, never changed back).
CREATE TABLE pending_items (
  entry_id       text PRIMARY KEY REFERENCES journal_entries(entry_id),
  merchant_id    text NOT NULL,
  item_kind      text NOT NULL CHECK (item_kind IN ('payment', 'refund')),
  reference_id   text NOT NULL,
  payment_id     text NOT NULL,
  -- payment: amount paid and fee charged; refund: amount refunded and fee returned.
  amount         bigint NOT NULL CHECK (amount > 0),
  fee            bigint NOT NULL CHECK (fee >= 0),
  business_date  text NOT NULL CHECK (business_date ~ '^\d{4}-\d{2}-\d{2}$'),
  settlement_id  text
);
CREATE INDEX pending_items_unsettled_idx ON pending_items (merchant_id, business_date) WHERE settlement_id IS NULL;
CREATE INDEX pending_items_payment_idx ON pending_items (payment_id);
CREATE INDEX pending_items_settlement_idx ON pending_items (settlement_id);

-- Refund fee policy: per merchant ID, else the platform's ('platform' scope), else proportional.
CREATE TABLE refund_fee_policies (
  scope       text PRIMARY KEY,
  policy      text NOT NULL CHECK (policy IN ('proportional', 'keep')),
  updated_at  timestamptz NOT NULL
);

-- The settlement calendar: the daily cut-off (Beijing time) and working-day exceptions.
CREATE TABLE settlement_calendar (
  singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  -- Minutes after Beijing midnight at which the business day closes (1440 = midnight).
  cutoff_minutes  integer NOT NULL CHECK (cutoff_minutes BETWEEN 1 AND 1440),
  updated_at      timestamptz NOT NULL
);
INSERT INTO settlement_calendar (singleton, cutoff_minutes, updated_at) VALUES (true, 1380, now());

CREATE TABLE settlement_calendar_days (
  day   text PRIMARY KEY CHECK (day ~ '^\d{4}-\d{2}-\d{2}$'),
  -- 'holiday': a weekday without settlement; 'working': a weekend day with settlement (调休).
  kind  text NOT NULL CHECK (kind IN ('holiday', 'working'))
);
