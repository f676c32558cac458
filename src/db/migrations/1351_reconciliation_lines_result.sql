-- Each line's result and paycore's amount, kept as the line is loaded: the line is classified once,
-- on its way in (src/reconciliation/lines.ts), and counts and exceptions read these instead of
-- joining a million lines against the payments again. The few lines not matched are indexed.
-- Lines loaded before this migration have NULL until their run runs again.
ALTER TABLE reconciliation_lines
  ADD COLUMN result text CHECK (result IN (
    'matched', 'network_only', 'platform_only', 'amount_mismatch', 'status_mismatch', 'fee_mismatch')),
  ADD COLUMN platform_amount bigint;
CREATE INDEX reconciliation_lines_unmatched_idx ON reconciliation_lines (reconciliation_id) WHERE result <> 'matched';
