-- A payment's outcome statement wrote four journal lines and three unapplied amounts, and each of
-- those rows ran a foreign-key check at the end of the statement: eleven of them, each an
-- executor run of its own that reads the parent through its primary key and locks it FOR KEY
-- SHARE. Three of the parents (the network's receivable, the fee income, the merchant ID's
-- pending account) are shared by every payment, so every check was also a row lock written to
-- the WAL on a hot page, and a multixact whenever two payments held it at once. The journal's
-- statement-level check (migrations 1510, 1950) already reads each written line's entry; it now
-- also proves what those keys proved, without locking anything (docs/performance.md, "Fifth
-- round: PostgreSQL on the AMD machine"):
-- - a line's entry exists: the check refuses lines whose entry it cannot find (before, a line
--   without its entry passed the check and only the key refused it). Entries are never deleted
--   or changed (migration 0200), so an entry that exists when its lines are written stays;
-- - a line's account exists: the check looks every account the statement's lines name up by its
--   primary key. A row written by a transaction not yet committed is not seen, so a line on an
--   account created by another transaction that is still running is refused instead of waited
--   for (paycore creates a missing account in the statement or transaction that posts on it);
-- - accounts are never deleted, truncated or renamed (the triggers below), which is what the
--   keys' locks guarded against while a posting was in flight;
-- - an unapplied amount's account: every writer derives the unapplied amounts from the same
--   statement's lines (src/ledger/journal.ts, accountTotals), whose accounts are checked above;
--   the applier refuses to fold a batch naming an account that does not exist (its statement
--   fails and the rows stay, src/ledger/applier.ts), and `paycore ledger check` reports lines
--   and unapplied amounts on unknown accounts and lines without an entry.
-- The pending item keeps its key to its entry: one check on a row the same statement wrote.
ALTER TABLE journal_lines DROP CONSTRAINT journal_lines_entry_id_fkey;
ALTER TABLE journal_lines DROP CONSTRAINT journal_lines_account_code_fkey;
ALTER TABLE ledger_unapplied DROP CONSTRAINT ledger_unapplied_account_code_fkey;

CREATE FUNCTION ledger_accounts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger accounts are never removed or renamed: % on % is not allowed', TG_OP, TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER ledger_accounts_no_delete BEFORE DELETE ON ledger_accounts
  FOR EACH ROW EXECUTE FUNCTION ledger_accounts_keep();
CREATE TRIGGER ledger_accounts_no_truncate BEFORE TRUNCATE ON ledger_accounts
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_accounts_keep();
-- Fires only for an UPDATE that names account_code (the applier's does not).
CREATE TRIGGER ledger_accounts_code_fixed BEFORE UPDATE OF account_code ON ledger_accounts
  FOR EACH ROW WHEN (NEW.account_code IS DISTINCT FROM OLD.account_code) EXECUTE FUNCTION ledger_accounts_keep();

-- The check of migration 1950, and for lines: each distinct entry looked up with a left join (a
-- missing entry is refused), each distinct account counted through the primary key (a lateral
-- aggregate the planner cannot turn into a join, so a parameterised probe whatever the
-- statistics). One query, so one executor run per statement, as before.
CREATE OR REPLACE FUNCTION ledger_check_entries_complete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad record;
  problem text;
BEGIN
  IF TG_TABLE_NAME = 'journal_entries' THEN
    SELECT w.entry_id, w.line_count, w.amount, s.n, s.debits, s.credits INTO bad
      FROM written w
      CROSS JOIN LATERAL (
        SELECT count(*) AS n,
               coalesce(sum(l.amount) FILTER (WHERE l.side = 'debit'), 0) AS debits,
               coalesce(sum(l.amount) FILTER (WHERE l.side = 'credit'), 0) AS credits
          FROM journal_lines l WHERE l.entry_id = w.entry_id) s
     WHERE s.n < 2 OR s.n <> w.line_count OR s.debits <> s.credits OR s.debits <> w.amount
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'journal entry % is unbalanced or incomplete: % of % lines, debits %, credits %, amount %',
        bad.entry_id, bad.n, bad.line_count, bad.debits, bad.credits, bad.amount;
    END IF;
    RETURN NULL;
  END IF;
  SELECT x.problem INTO problem FROM (
    SELECT CASE WHEN e.entry_id IS NULL THEN format('journal lines name entry %s, which does not exist', w.entry_id)
                ELSE format('journal entry %s is unbalanced or incomplete: %s of %s lines, debits %s, credits %s, amount %s',
                            e.entry_id, s.n, e.line_count, s.debits, s.credits, e.amount) END AS problem
      FROM (SELECT DISTINCT entry_id FROM written) w
      LEFT JOIN LATERAL (
        SELECT j.entry_id, j.line_count, j.amount FROM journal_entries j WHERE j.entry_id = w.entry_id OFFSET 0) e ON true
      CROSS JOIN LATERAL (
        SELECT count(*) AS n,
               coalesce(sum(l.amount) FILTER (WHERE l.side = 'debit'), 0) AS debits,
               coalesce(sum(l.amount) FILTER (WHERE l.side = 'credit'), 0) AS credits
          FROM journal_lines l WHERE l.entry_id = w.entry_id) s
     WHERE e.entry_id IS NULL OR s.n < 2 OR s.n <> e.line_count OR s.debits <> s.credits OR s.debits <> e.amount
    UNION ALL
    SELECT format('journal lines name account %s, which does not exist', w.account_code)
      FROM (SELECT DISTINCT account_code FROM written) w
      CROSS JOIN LATERAL (SELECT count(*) AS n FROM ledger_accounts a WHERE a.account_code = w.account_code) a
     WHERE a.n = 0
  ) x LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%', problem;
  END IF;
  RETURN NULL;
END;
$$;
