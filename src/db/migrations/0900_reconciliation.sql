-- Reconciliation against the networks' statement files: runs, the file's lines (the evidence),
-- exceptions for operators, alerts, and the ledger accounts adjustments post to.
-- docs/reconciliation.md describes the matching rules and every posting.

-- Two ledger accounts and one journal event type. The CHECK lists are extended in place (whatever
-- other migrations added stays), so this migration does not depend on which ran before it. The
-- constraint is this schema's own (conrelid): several schemas may hold one of the same name.
DO $$
DECLARE def text;
BEGIN
  SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint WHERE conname = 'ledger_accounts_kind_check' AND conrelid = 'ledger_accounts'::regclass;
  ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
  EXECUTE 'ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check '
    || replace(def, 'ARRAY[', 'ARRAY[''reconciliation_loss''::text, ''reconciliation_suspense''::text, ');
  SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint WHERE conname = 'journal_entries_event_type_check' AND conrelid = 'journal_entries'::regclass;
  ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_event_type_check;
  EXECUTE 'ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_event_type_check '
    || replace(def, 'ARRAY[', 'ARRAY[''reconciliation_adjusted''::text, ');
END $$;

CREATE TABLE reconciliations (
  reconciliation_id text PRIMARY KEY,
  channel_id        text NOT NULL,
  -- The network's settlement day the statement file covers.
  settlement_date   text NOT NULL CHECK (settlement_date ~ '^\d{4}-\d{2}-\d{2}$'),
  status            text NOT NULL CHECK (status IN ('running', 'done')),
  -- SHA-256 of the file as verified; a re-run with the same file does not load its lines again.
  file_sha256       text,
  line_count        integer NOT NULL DEFAULT 0 CHECK (line_count >= 0),
  -- What the file says the network owes for the day (signed fen).
  file_net          bigint NOT NULL DEFAULT 0,
  run_count         integer NOT NULL DEFAULT 0 CHECK (run_count >= 0),
  -- The network's settlement transfer for the day, once confirmed.
  settled_amount    bigint,
  settled_at        timestamptz,
  started_at        timestamptz NOT NULL,
  finished_at       timestamptz,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  UNIQUE (channel_id, settlement_date)
);
CREATE INDEX reconciliations_date_idx ON reconciliations (settlement_date, channel_id);

-- Per run and result: how many lines (or platform records) and their amounts, for reports.
CREATE TABLE reconciliation_results (
  reconciliation_id text NOT NULL REFERENCES reconciliations (reconciliation_id),
  result            text NOT NULL CHECK (result IN (
                      'matched', 'network_only', 'platform_only', 'amount_mismatch', 'status_mismatch',
                      'fee_mismatch', 'buffered')),
  item_count        bigint NOT NULL CHECK (item_count >= 0),
  network_amount    bigint NOT NULL,
  platform_amount   bigint NOT NULL,
  PRIMARY KEY (reconciliation_id, result)
);

-- Every line of every verified file, as the network wrote it.
CREATE TABLE reconciliation_lines (
  reconciliation_id text NOT NULL REFERENCES reconciliations (reconciliation_id),
  line_no           integer NOT NULL CHECK (line_no >= 1),
  kind              text NOT NULL CHECK (kind IN ('pay', 'refund')),
  network_txn_id    text NOT NULL,
  txn_id            text NOT NULL,
  -- paycore's payment or refund id, as sent in the request.
  order_id          text NOT NULL,
  amount            bigint NOT NULL CHECK (amount >= 0),
  fee               bigint NOT NULL CHECK (fee >= 0),
  settle_amount     bigint NOT NULL,
  PRIMARY KEY (reconciliation_id, line_no)
);
CREATE INDEX reconciliation_lines_order_idx ON reconciliation_lines (order_id);

CREATE TABLE reconciliation_exceptions (
  exception_id      text PRIMARY KEY,
  reconciliation_id text NOT NULL REFERENCES reconciliations (reconciliation_id),
  channel_id        text NOT NULL,
  settlement_date   text NOT NULL,
  kind              text NOT NULL CHECK (kind IN (
                      'network_only', 'platform_only', 'amount_mismatch', 'status_mismatch', 'fee_mismatch')),
  -- The line's network txn id, or (platform-only) paycore's payment or refund id: one exception
  -- per line or record and day, whatever the number of runs.
  match_key         text NOT NULL,
  -- 'buffered': platform-only near the cut-off, waiting for the next file until due_date.
  status            text NOT NULL CHECK (status IN ('buffered', 'open', 'resolved')),
  payment_id        text,
  refund_id         text,
  payout_id         text,
  network_txn_id    text,
  txn_id            text,
  -- 'pay' or 'refund': the line's (or platform record's) direction.
  record_kind       text NOT NULL CHECK (record_kind IN ('pay', 'refund')),
  platform_amount   bigint,
  network_amount    bigint,
  platform_fee      bigint,
  network_fee       bigint,
  -- What the network's file says it pays for the line (negative for a refund).
  network_settle    bigint,
  platform_status   text,
  due_date          text,
  resolution        text CHECK (resolution IN (
                      'accept_network', 'refund', 'write_off', 'requery', 'auto_query', 'matched_late')),
  resolution_note   text,
  resolved_by       text,
  resolved_at       timestamptz,
  -- Set while an action waits for a second operator (four eyes) or the network (refund).
  pending_action    text,
  -- The network transaction id of a refund this exception sent (intent committed before the call).
  action_txn_id     text,
  proposal_id       text,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  UNIQUE (channel_id, settlement_date, match_key)
);
CREATE INDEX reconciliation_exceptions_status_idx ON reconciliation_exceptions (status, exception_id);
CREATE INDEX reconciliation_exceptions_day_idx ON reconciliation_exceptions (channel_id, settlement_date);

-- Missing, late or refused files and settlements that do not add up; one per channel, day and kind.
CREATE TABLE reconciliation_alerts (
  alert_id        text PRIMARY KEY,
  channel_id      text NOT NULL,
  settlement_date text NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('file_late', 'file_missing', 'file_refused', 'settlement_mismatch')),
  message         text NOT NULL,
  occurrences     integer NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  UNIQUE (channel_id, settlement_date, kind)
);

-- Per channel: when its file is due and how reconciliation treats it (defaults in code).
CREATE TABLE reconciliation_settings (
  channel_id                 text PRIMARY KEY,
  enabled                    boolean NOT NULL,
  -- The network's cut-off (Beijing minutes after midnight): its day D ends at D + cutoff.
  cutoff_minutes             integer NOT NULL CHECK (cutoff_minutes BETWEEN 0 AND 1439),
  -- When day D's file is expected: minutes after D's cut-off; late after the grace.
  file_ready_minutes         integer NOT NULL CHECK (file_ready_minutes BETWEEN 0 AND 2880),
  file_late_minutes          integer NOT NULL CHECK (file_late_minutes BETWEEN 1 AND 2880),
  near_cutoff_minutes        integer NOT NULL CHECK (near_cutoff_minutes BETWEEN 0 AND 720),
  buffer_business_days       integer NOT NULL CHECK (buffer_business_days BETWEEN 0 AND 10),
  write_off_four_eyes_min    bigint NOT NULL CHECK (write_off_four_eyes_min >= 0),
  updated_at                 timestamptz NOT NULL
);
