-- A payment's windows go to the database as a few numbers, and the ranges they read are derived
-- here, not in the client; and every read of the count is an index probe whatever the
-- statistics.
--
-- 1. Windows as numbers. risk_payment_judge (migration 1850) took each window as its bucket
--    ranges and raw edges: ~190 array elements per payment under the bench's 20 rules, ~150 of
--    them instants the client formatted as text (toISOString) and PostgreSQL parsed again. Now a
--    window is its scope (0 card, 1 ID holder, 2 merchant ID) and its start in epoch
--    milliseconds; the split is the same as src/risk/counters.ts windowRanges: the raw payments
--    of [since, next whole minute), whole minute buckets up to the next whole hour, whole hour
--    buckets up to the next UTC day, day buckets from there on. Each window is read by four
--    lateral subqueries, each summing its own rows (no UNION ALL, sort and regrouping).
--
-- 2. Index probes whatever the statistics. These functions keep one generic plan per connection
--    (plan_cache_mode = force_generic_plan), made on whatever statistics the tables have when the
--    connection first calls them. auto_explain on a fresh database (the risk bench's end-to-end
--    part: the tables small and never analyzed) showed the plan of migration 1304 reading the
--    counters by a sequential scan of risk_counters for every bucket range, and a card's or
--    merchant ID's raw edge through payments_created_idx (every payment of every merchant ID in
--    the edge's minute, filtered by card) — cheap while the tables are small, but kept by the
--    connection as they grow, until the next ANALYZE of the table replaces it. Here:
--    - each range is written as a row comparison over the leading columns of the one index that
--      serves it: (scope_key, width_s, bucket_start) of risk_counters' primary key,
--      (card_id, created_at) of payments_card_day_idx, (merchant_id, created_at) of
--      payments_merchant_created_idx. A row comparison can be an index condition only on an index
--      with those leading columns (payments_created_idx, risk_counters_bucket_start_idx and the
--      merchant ID's other indexes cannot use it), and the equalities beside it pin the prefix;
--    - the functions run with enable_seqscan and enable_bitmapscan off, so that the planner does
--      not prefer a sequential (or bitmap) scan of a table it believes small: what is left is the
--      index scan. A row comparison (a, b) >= (x, y) AND (a, b) < (x, z) with a = x is exactly
--      a = x AND y <= b < z.
-- What is counted is unchanged: attempts of every status, amounts of payments that did not fail.
CREATE FUNCTION risk_payment_usage(
  k_card text, k_id text, k_merchant text,
  win_scope smallint[], win_since_ms bigint[])
RETURNS TABLE (w integer, n bigint, a bigint) LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET max_parallel_workers_per_gather = 0
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT (x.i - 1)::integer,
         (m.n + h.n + d.n + e.n)::int8,
         (m.a + h.a + d.a + e.a)::int8
    FROM unnest(win_scope, win_since_ms) WITH ORDINALITY AS x(scope, since_ms, i)
    CROSS JOIN LATERAL (
      SELECT CASE x.scope WHEN 0 THEN 'payment:card:' || k_card WHEN 1 THEN 'payment:id:' || k_id ELSE 'payment:merchant:' || k_merchant END AS key,
             to_timestamp(x.since_ms / 1000.0) AS since,
             to_timestamp(t.minute_ms / 1000) AS minute,
             to_timestamp(t.hour_ms / 1000) AS hour,
             to_timestamp(t.day_ms / 1000) AS day
        FROM (SELECT ((x.since_ms + 59999) / 60000) * 60000 AS minute_ms) AS t0
        CROSS JOIN LATERAL (SELECT t0.minute_ms,
                                   ((t0.minute_ms + 3599999) / 3600000) * 3600000 AS hour_ms,
                                   ((t0.minute_ms + 86399999) / 86400000) * 86400000 AS day_ms) AS t
    ) AS r
    CROSS JOIN LATERAL (SELECT coalesce(sum(c.count), 0) AS n, coalesce(sum(c.amount), 0) AS a FROM risk_counters c
      WHERE c.scope_key = r.key AND c.width_s = 60 AND c.bucket_start >= r.minute AND c.bucket_start < r.hour) AS m
    CROSS JOIN LATERAL (SELECT coalesce(sum(c.count), 0) AS n, coalesce(sum(c.amount), 0) AS a FROM risk_counters c
      WHERE c.scope_key = r.key AND c.width_s = 3600 AND c.bucket_start >= r.hour AND c.bucket_start < r.day) AS h
    CROSS JOIN LATERAL (SELECT coalesce(sum(c.count), 0) AS n, coalesce(sum(c.amount), 0) AS a FROM risk_counters c
      WHERE c.scope_key = r.key AND c.width_s = 86400 AND c.bucket_start >= r.day) AS d
    CROSS JOIN LATERAL (
      SELECT count(*) AS n, coalesce(sum(y.a), 0) AS a FROM (
        SELECT CASE WHEN p.status <> 'failed' THEN p.amount ELSE 0 END AS a FROM payments p
          WHERE x.scope = 0 AND p.card_id = k_card AND p.created_at >= r.since AND p.created_at < r.minute
        UNION ALL
        SELECT CASE WHEN p.status <> 'failed' THEN p.amount ELSE 0 END FROM cards k
          CROSS JOIN LATERAL (SELECT p.status, p.amount FROM payments p
            WHERE p.card_id = k.card_id AND p.created_at >= r.since AND p.created_at < r.minute OFFSET 0) AS p
          WHERE x.scope = 1 AND k.id_fingerprint = k_id
        UNION ALL
        SELECT CASE WHEN p.status <> 'failed' THEN p.amount ELSE 0 END FROM payments p
          WHERE x.scope = 2 AND p.merchant_id = k_merchant AND p.created_at >= r.since AND p.created_at < r.minute
      ) AS y) AS e;
END;
$$;

-- risk_payment_judge (migration 1850) with the windows as numbers: the same locks, the same
-- judgement, the count from risk_payment_usage. The 1850 function stays for a process of the
-- previous release still calling it during a rolling start.
CREATE FUNCTION risk_payment_judge(
  lock_class integer, lock_keys text[],
  k_card text, k_id text, k_merchant text, win_scope smallint[], win_since_ms bigint[],
  payment_id text, payment_amount bigint,
  rule_window integer[], rule_max_count bigint[], rule_max_amount bigint[], rule_effect text[], rule_fields jsonb)
RETURNS boolean LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
SET max_parallel_workers_per_gather = 0
AS $$
DECLARE
  used_n bigint[];
  used_a bigint[];
  i integer;
  n bigint;
  a bigint;
  over_count boolean;
  over_amount boolean;
  item jsonb;
  fired jsonb := '[]'::jsonb;
  review jsonb;
  outcome text := 'allow';
BEGIN
  PERFORM count(pg_advisory_xact_lock(lock_class, s.h))
    FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest(lock_keys) AS k ORDER BY h OFFSET 0) AS s;
  -- One row per window, in window order (w is 0-based: window w at index w + 1). A new statement:
  -- its snapshot is taken after the locks above were granted.
  SELECT array_agg(u.n ORDER BY u.w), array_agg(u.a ORDER BY u.w) INTO used_n, used_a
    FROM risk_payment_usage(k_card, k_id, k_merchant, win_scope, win_since_ms) AS u;
  FOR i IN 1 .. coalesce(array_length(rule_window, 1), 0) LOOP
    n := used_n[rule_window[i] + 1] + 1;
    a := used_a[rule_window[i] + 1] + payment_amount;
    over_count := rule_max_count[i] IS NOT NULL AND n > rule_max_count[i];
    over_amount := rule_max_amount[i] IS NOT NULL AND a > rule_max_amount[i];
    CONTINUE WHEN NOT (over_count OR over_amount);
    IF rule_effect[i] = 'reject' THEN
      RETURN false;
    END IF;
    item := rule_fields -> (i - 1);
    item := (item - 'count_text' - 'amount_text') || jsonb_build_object(
      'observed_count', n,
      'observed_amount', a::text,
      'explanation', replace(replace(CASE WHEN over_count THEN item ->> 'count_text' ELSE item ->> 'amount_text' END,
        '{count}', n::text), '{yuan}', risk_yuan(a)));
    fired := fired || jsonb_build_array(item);
    IF rule_effect[i] = 'review' AND review IS NULL THEN
      review := item;
      outcome := 'review';
    END IF;
  END LOOP;
  PERFORM set_config('paycore.risk_decision', jsonb_build_object(
    'payment_id', payment_id,
    'outcome', outcome,
    'fired', fired,
    'alert_rule_id', review ->> 'rule_id',
    'alert', CASE WHEN review IS NULL THEN NULL ELSE format('payment %s let through for review by rule %s (%s): %s',
      payment_id, review ->> 'rule_id', review ->> 'name', review ->> 'explanation') END)::text, true);
  RETURN true;
END;
$$;
