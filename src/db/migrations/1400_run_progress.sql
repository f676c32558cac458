-- Progress of long operations, kept in the run's own row so that every paycore process (the one
-- running it, another serving the console, the CLI) reads the same state.

-- One row per settlement run (each POST /admin/v1/settlements/run or `paycore settle`): its phase
-- and counters, updated every few groups or instructions, and how it ended.
CREATE TABLE settlement_runs (
  run_id             text PRIMARY KEY,
  settlement_date    text NOT NULL CHECK (settlement_date ~ '^\d{4}-\d{2}-\d{2}$'),
  status             text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  -- settle: settlement groups done of total; payout: open instructions executed of total.
  phase              text NOT NULL CHECK (phase IN ('settle', 'payout', 'done')),
  done               integer NOT NULL DEFAULT 0 CHECK (done >= 0),
  total              integer NOT NULL DEFAULT 0 CHECK (total >= 0),
  operator_id        text,
  records_created    integer NOT NULL DEFAULT 0,
  payouts_created    integer NOT NULL DEFAULT 0,
  amount_instructed  bigint NOT NULL DEFAULT 0,
  error              text,
  started_at         timestamptz NOT NULL,
  finished_at        timestamptz,
  updated_at         timestamptz NOT NULL
);
CREATE INDEX settlement_runs_date_idx ON settlement_runs (settlement_date, run_id);
CREATE INDEX settlement_runs_running_idx ON settlement_runs (updated_at) WHERE status = 'running';

-- A reconciliation run's current phase and lines (total is null while the file streams in: its
-- length is not known before its last line), and the error that stopped the last attempt.
ALTER TABLE reconciliations
  ADD COLUMN progress_phase text,
  ADD COLUMN progress_done integer NOT NULL DEFAULT 0,
  ADD COLUMN progress_total integer,
  ADD COLUMN progress_error text,
  ADD COLUMN progress_at timestamptz;

-- A payout batch's progress counts its payouts by status (lines final of lines).
CREATE INDEX payouts_batch_idx ON payouts (batch_id, status) WHERE batch_id IS NOT NULL;
