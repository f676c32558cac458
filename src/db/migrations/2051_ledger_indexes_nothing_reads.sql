-- Index entries a payment's outcome wrote that nothing reads (docs/performance.md, "Fifth round:
-- PostgreSQL on the AMD machine"):
-- - ledger_unapplied_account_idx: three entries per payment (one per account moved). Every reader
--   of ledger_unapplied takes the whole table: the applier (in physical order since this round,
--   src/ledger/applier.ts), the balances view under a list of accounts, the trial balance and the
--   books check (a hash aggregate either way). The table holds only what the applier has not
--   folded yet (it runs every 200 ms).
-- - pending_items_settlement_idx: every new item has no settlement, and a B-tree keeps NULLs, so
--   each payment's item went into it to be found by nothing. Only items taken by a settlement are
--   indexed now; a look-up by settlement_id = … uses the partial index as before.
DROP INDEX ledger_unapplied_account_idx;
CREATE INDEX pending_items_settled_idx ON pending_items (settlement_id) WHERE settlement_id IS NOT NULL;
DROP INDEX pending_items_settlement_idx;
