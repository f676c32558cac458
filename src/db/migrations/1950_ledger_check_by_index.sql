-- The journal's statement-level check (migration 1510) joined the statement's entries to
-- journal_entries with a plain join, so the plan PL/pgSQL caches for it in each connection
-- depended on the table's statistics at the time it was first planned. On a database whose
-- journal had not been analyzed yet (a new installation, or a table that grew tenfold within
-- autovacuum's minute) that plan was a hash join over a sequential scan of the whole journal:
-- 0.3-0.6 ms per check at 5,000 entries, twice per payment, growing with the journal until the
-- next ANALYZE replaced the plan (found in the payments benchmark with auto_explain).
--
-- The check now reaches journal_entries and journal_lines only through their primary keys, for
-- each entry the statement wrote, whatever the statistics say: from journal_entries the written
-- rows are the entries themselves; from journal_lines each distinct entry is looked up in a
-- lateral subquery that the planner cannot flatten into a join (OFFSET 0), so it can only be a
-- parameterised probe. What is checked is unchanged: when a statement ends, every entry it wrote
-- or added lines to has exactly `line_count` lines, at least two, debits equal to credits and to
-- `amount`.
CREATE OR REPLACE FUNCTION ledger_check_entries_complete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad record;
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
  ELSE
    SELECT e.entry_id, e.line_count, e.amount, s.n, s.debits, s.credits INTO bad
      FROM (SELECT DISTINCT entry_id FROM written) w
      CROSS JOIN LATERAL (
        SELECT j.entry_id, j.line_count, j.amount FROM journal_entries j WHERE j.entry_id = w.entry_id OFFSET 0) e
      CROSS JOIN LATERAL (
        SELECT count(*) AS n,
               coalesce(sum(l.amount) FILTER (WHERE l.side = 'debit'), 0) AS debits,
               coalesce(sum(l.amount) FILTER (WHERE l.side = 'credit'), 0) AS credits
          FROM journal_lines l WHERE l.entry_id = w.entry_id) s
     WHERE s.n < 2 OR s.n <> e.line_count OR s.debits <> s.credits OR s.debits <> e.amount
     LIMIT 1;
  END IF;
  IF FOUND THEN
    RAISE EXCEPTION 'journal entry % is unbalanced or incomplete: % of % lines, debits %, credits %, amount %',
      bad.entry_id, bad.n, bad.line_count, bad.debits, bad.credits, bad.amount;
  END IF;
  RETURN NULL;
END;
$$;
