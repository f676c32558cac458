-- A statement file's lines are written in bulk (1,000,000 a day for a big network): the foreign
-- key to reconciliations made PostgreSQL check every inserted line against its run (one RI lookup
-- per row), which was half the cost of loading a file (measured: 1,000,000 lines 24 s with it,
-- 12 s without, docs/reconciliation.md). The lines are only ever written by the run that owns them,
-- after its row is committed (src/reconciliation/run.ts), and runs are never deleted.
ALTER TABLE reconciliation_lines DROP CONSTRAINT IF EXISTS reconciliation_lines_reconciliation_id_fkey;
