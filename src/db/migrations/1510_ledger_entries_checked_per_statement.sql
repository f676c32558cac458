-- The database's second line of defence behind buildEntry (migration 0200) checked every entry at
-- commit with deferred per-row triggers: six PL/pgSQL calls and six reads of the entry's lines for
-- a payment's entry of five lines, 600 for a batch of 100 entries (a third of the database's CPU
-- per batched posting, issue 10). An entry and its lines are written by one statement (postEntry,
-- postEntries), so the check runs once per statement instead, over the rows the statement
-- inserted (transition tables), and is stricter: when a statement ends, every entry it wrote or
-- added lines to has exactly `line_count` lines, debits equal to credits and to `amount`. An
-- entry written without its lines, or a line added to an entry written before, is refused at
-- that statement.
DROP TRIGGER journal_entries_balanced ON journal_entries;
DROP TRIGGER journal_lines_balanced ON journal_lines;
DROP FUNCTION ledger_check_entry_balanced();

CREATE FUNCTION ledger_check_entries_complete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad record;
BEGIN
  SELECT e.entry_id, e.line_count, e.amount, s.n, s.debits, s.credits INTO bad
    FROM (SELECT DISTINCT entry_id FROM written) w
    JOIN journal_entries e ON e.entry_id = w.entry_id
    CROSS JOIN LATERAL (
      SELECT count(*) AS n,
             coalesce(sum(l.amount) FILTER (WHERE l.side = 'debit'), 0) AS debits,
             coalesce(sum(l.amount) FILTER (WHERE l.side = 'credit'), 0) AS credits
        FROM journal_lines l WHERE l.entry_id = e.entry_id) s
   WHERE s.n < 2 OR s.n <> e.line_count OR s.debits <> s.credits OR s.debits <> e.amount
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'journal entry % is unbalanced or incomplete: % of % lines, debits %, credits %, amount %',
      bad.entry_id, bad.n, bad.line_count, bad.debits, bad.credits, bad.amount;
  END IF;
  RETURN NULL;
END;
$$;
CREATE TRIGGER journal_entries_complete AFTER INSERT ON journal_entries
  REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_entries_complete();
CREATE TRIGGER journal_lines_complete AFTER INSERT ON journal_lines
  REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_entries_complete();
