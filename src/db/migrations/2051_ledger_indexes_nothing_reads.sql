-- Index entries a payment's outcome wrote that nothing reads (docs/performance.md, "Fifth round:
-- PostgreSQL on the AMD machine"):
-- - ledger_unapplied_account_idx: three entries per payment (one per account moved). Every reader
--   of ledger_unapplied takes the whole table: the applier (in physical order since this round,
--   src/ledger/applier.ts), the balances view under a list of accounts, the trial balance and the
--   books check (a hash aggregate either way). The table holds only what the applier has not
--   folded yet (it runs every 200 ms).
-- - pending_items_settlement_idx: every new item has no settlement, and a B-tree keeps NULLs, so
--   each payment's item went into it to be found by nothing. No statement reads pending_items by
--   settlement_id = … either (settlements claim items through pending_items_unsettled_idx), so
--   no replacement is built: building one here would hold off every payment's outcome (its
--   insert into pending_items) for a scan of the whole table, which is never pruned. A reader
--   that needs it should come with CREATE INDEX CONCURRENTLY outside a migration's transaction.
--   (As first landed on 2026-12-03 this migration built a partial index in its place; a
--   database that ran that version keeps it, harmlessly.)
DROP INDEX ledger_unapplied_account_idx;
DROP INDEX pending_items_settlement_idx;
