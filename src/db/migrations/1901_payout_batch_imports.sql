-- An operator's import of a payout batch for a merchant ID (POST /admin/v1/merchants/{id}/payout-batches,
-- `paycore payouts import`) moves the merchant's money to payees the operator names: four eyes.
-- The import is proposed with its lines sealed here; a second admin's approval creates the batch
-- row (status 'approved'); the payout sweeper then runs the lines as the merchant's own batch
-- would (src/payouts/imports.ts) and drops the sealed lines ('done'). A rejected proposal's lines
-- are dropped as well ('refused').
CREATE TABLE payout_batch_imports (
  import_id     text PRIMARY KEY,
  merchant_id   text NOT NULL REFERENCES merchants(merchant_id),
  out_batch_no  text NOT NULL,
  -- The same fingerprint the batch keeps: the run finds the batch by it, a repeat is recognised.
  request_hash  text NOT NULL,
  -- The lines, sealed with the master key (payee account numbers); NULL once run or refused.
  lines_enc     text,
  line_count    integer NOT NULL CHECK (line_count BETWEEN 1 AND 1000),
  -- Fen: the sum of the lines that parse, what the checker is asked to approve.
  total_amount  bigint NOT NULL CHECK (total_amount >= 0),
  proposal_id   text REFERENCES proposals(proposal_id),
  status        text NOT NULL CHECK (status IN ('proposed', 'approved', 'done', 'refused')),
  batch_id      text REFERENCES payout_batches(batch_id),
  -- The run's lease (several processes sweep).
  lease_until   timestamptz,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  CHECK ((status IN ('done', 'refused')) = (lines_enc IS NULL)),
  CHECK (status NOT IN ('approved', 'done') OR batch_id IS NOT NULL)
);
-- One open import per batch number: a repeat of the same file finds it.
CREATE UNIQUE INDEX payout_batch_imports_open_idx ON payout_batch_imports (merchant_id, out_batch_no) WHERE status IN ('proposed', 'approved');
CREATE INDEX payout_batch_imports_due_idx ON payout_batch_imports (status, created_at) WHERE status IN ('proposed', 'approved');
