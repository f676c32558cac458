-- A payment under an enforced reject rule is counted without a lock first, then its intent is
-- recorded by one statement that calls this function before it writes anything
-- (src/risk/screen.ts). The function takes the transaction-level advisory locks of the scopes the
-- reject rules count (the same keys as the locked path: class 1000, hashtext of the scope key,
-- in ascending order so two payments sharing scopes cannot deadlock), then re-reads each scope's
-- attempts in its day buckets since the given day. A VOLATILE function reads each of its queries
-- with a new snapshot, taken after the locks were granted: it sees every payment of the scope
-- that committed before, including one that held the lock while this one waited. Counts only ever
-- grow (a failure takes back an amount, never an attempt), so an unchanged total means no payment
-- of the scope has been recorded since the count the rules were judged on: the payment may go in,
-- and the locks stay held until the statement commits. A changed total answers false: the
-- statement writes nothing and the payment is judged again under the locks.
CREATE FUNCTION risk_scopes_unchanged(lock_class integer, lock_keys text[], check_keys text[], check_from timestamptz[], check_counts bigint[])
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  i integer;
  total bigint;
BEGIN
  PERFORM count(pg_advisory_xact_lock(lock_class, s.h))
    FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest(lock_keys) AS k ORDER BY h OFFSET 0) AS s;
  FOR i IN 1 .. coalesce(array_length(check_keys, 1), 0) LOOP
    SELECT coalesce(sum(c.count), 0) INTO total FROM risk_counters c
      WHERE c.scope_key = check_keys[i] AND c.width_s = 86400 AND c.bucket_start >= check_from[i];
    IF total <> check_counts[i] THEN
      RETURN false;
    END IF;
  END LOOP;
  RETURN true;
END;
$$;
