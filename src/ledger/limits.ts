/** Named maxima of the ledger and settlement (TigerBeetle style: a limit on everything). */
export const LEDGER_LIMITS = {
  /** Lines in one journal entry: a group payout has one line per member plus one. */
  lines_per_entry_max: 1_024,
  /** Entries posted by one postEntries statement. */
  entries_per_batch_max: 500,
  /** Lines of one postEntries statement (one array element per column each; bounds the statement's size). */
  lines_per_batch_max: 3_000,
  /** Merchant IDs settled to one settlement account (a parent and its sub-merchants). */
  group_members_max: 1_000,
  /** Earlier held / failed settlement records swept into one payout, per member. */
  payable_records_per_member_max: 400,
  /** Payout instructions executed per pass. */
  payouts_per_pass_max: 5_000,
  /** Merchant groups read per page of a settlement run. */
  run_page_groups_max: 200,
  /** Pages in one settlement run (run_page_groups_max × this = groups per run). */
  run_pages_max: 10_000,
  /** Days scanned to find working days. */
  calendar_scan_days_max: 400,
  calendar_days_max: 10_000,
  /** Steps in the cut-off's history (one per change; a change a day for 27 years). */
  cutoff_steps_max: 10_000,
  cycle_days_max: 30,
  /** Problems reported by one ledger check. */
  check_problems_max: 100,
  /** Rows of one statement. */
  statement_lines_max: 100_000,
  /** Rows of one margin report (merchant ID × network). */
  margin_rows_max: 10_000,
  /** Unapplied amounts folded into kept totals by one applier statement. */
  apply_batch_lines_max: 5_000,
  /** Batches one applier pass runs before it yields. */
  apply_passes_max: 20,
  /** How often a server process runs the applier. */
  apply_interval_ms: 200,
  /** Attempts to execute one payout before it is left for an operator. */
  payout_attempts_max: 50,
} as const;
