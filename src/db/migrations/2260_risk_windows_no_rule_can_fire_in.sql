-- A payment's windows that none of their rules can fire in are not counted.
--
-- risk_payment_judge counted every window of every rule (the bench's 20 rules: 15 windows, five
-- or six index probes each) and then compared each rule's limit with its window's count. Most
-- rules are far from their limits on most payments, and for those the count is work whose answer
-- changes nothing: a rule's figures are stored only when it fires.
--
-- A window's count and amount are at most its scope's bound: the scope's day buckets from the
-- UTC day of its oldest window on (one index probe per scope, at most 32 rows per stripe). Every
-- attempt of a window lies in one of those day buckets (kept 33 days, longer than any window), and
-- a bucket's amount is the sum of its payments that did not fail, each positive. So a window whose
-- rules all have room for the bound cannot fire any of them:
--   count_room  = min over its rules of (max_count - 1)              a rule fires on count when count + 1 > max_count
--   amount_room = min over its rules of (max_amount - the payment's)  and on amount when amount + the payment's > max_amount
--   the window is counted only when bound.n > count_room or bound.a > amount_room.
-- The bound and the windows are read by one query, so in one snapshot: a payment recorded between
-- them cannot make the bound smaller than a window it covers.
--
-- 1. risk_payment_usage_needed: risk_payment_usage (migration 2190) with each window's two rooms;
--    a window not counted comes back with NULL count and amount, and no index is read for it (the
--    bound is read first, and only the windows it leaves are counted).
-- 2. risk_payment_judge with the rooms and with each rule's fields as text (an array element per
--    rule) instead of one jsonb document: PostgreSQL parsed the 20 rules' 7-9 KB of JSON on every
--    payment (~50 µs); now only a rule that fires is parsed. A rule whose window was not counted
--    cannot fire and is passed over.
-- The functions of migrations 1960 and 2190 stay: a process of the previous release calls them
-- during a rolling start, and the payment judged again under its locks after a reject
-- (src/risk/screen.ts) counts every window with risk_payment_usage.
CREATE FUNCTION risk_payment_usage_needed(
  k_card text, k_id text, k_merchant text,
  win_scope smallint[], win_since_ms bigint[], win_count_room bigint[], win_amount_room bigint[])
RETURNS TABLE (w integer, n bigint, a bigint) LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET max_parallel_workers_per_gather = 0
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH x AS MATERIALIZED (
    SELECT u.scope, u.since_ms, u.count_room, u.amount_room, u.i,
           CASE u.scope WHEN 0 THEN 'payment:card:' || k_card WHEN 1 THEN 'payment:id:' || k_id ELSE 'payment:merchant:' || k_merchant END AS key
      FROM unnest(win_scope, win_since_ms, win_count_room, win_amount_room) WITH ORDINALITY AS u(scope, since_ms, count_room, amount_room, i)
  ), bound AS MATERIALIZED (
    SELECT o.key, t.n, t.a
      FROM (SELECT x.key, (min(x.since_ms) / 86400000) * 86400000 AS day_ms FROM x GROUP BY x.key) AS o
      CROSS JOIN LATERAL (SELECT coalesce(sum(c.count), 0) AS n, coalesce(sum(c.amount), 0) AS a FROM risk_counters c
        WHERE c.scope_key = o.key AND c.width_s = 86400 AND c.bucket_start >= to_timestamp(o.day_ms / 1000)) AS t
  ), q AS MATERIALIZED (
    SELECT x.*, (b.n > x.count_room) IS TRUE OR (b.a > x.amount_room) IS TRUE AS needed FROM x JOIN bound b ON b.key = x.key
  )
  SELECT (q.i - 1)::integer, NULL::int8, NULL::int8 FROM q WHERE NOT q.needed
  UNION ALL
  SELECT (x.i - 1)::integer,
         (m.n + h.n + d.n + s.n + e.n)::int8,
         (m.a + h.a + d.a + s.a + e.a)::int8
    FROM q AS x
    CROSS JOIN LATERAL (
      SELECT to_timestamp(x.since_ms / 1000.0) AS since,
             to_timestamp(t.second_ms / 1000) AS second,
             to_timestamp(t.minute_ms / 1000) AS minute,
             to_timestamp(t.hour_ms / 1000) AS hour,
             to_timestamp(t.day_ms / 1000) AS day,
             x.scope = 2 AND t.minute_ms > x.since_ms AS merchant_edge
        FROM (SELECT ((x.since_ms + 999) / 1000) * 1000 AS second_ms, ((x.since_ms + 59999) / 60000) * 60000 AS minute_ms) AS t0
        CROSS JOIN LATERAL (SELECT t0.second_ms, t0.minute_ms,
                                   ((t0.minute_ms + 3599999) / 3600000) * 3600000 AS hour_ms,
                                   ((t0.minute_ms + 86399999) / 86400000) * 86400000 AS day_ms) AS t
    ) AS r
    -- Is the merchant ID's edge minute exact in second buckets? (false for other scopes)
    CROSS JOIN LATERAL (SELECT coalesce(sum(c.count) = sum(c.fine_count) AND sum(c.amount) = sum(c.fine_amount), true) AS exact FROM risk_counters c
      WHERE r.merchant_edge AND c.scope_key = x.key AND c.width_s = 60 AND c.bucket_start = r.minute - interval '1 minute') AS f
    CROSS JOIN LATERAL (SELECT r.merchant_edge AND f.exact AS by_seconds) AS g
    CROSS JOIN LATERAL (SELECT coalesce(sum(c.count), 0) AS n, coalesce(sum(c.amount), 0) AS a FROM risk_counters c
      WHERE g.by_seconds AND c.scope_key = x.key AND c.width_s = 1 AND c.bucket_start >= r.second AND c.bucket_start < r.minute) AS s
    CROSS JOIN LATERAL (SELECT coalesce(sum(c.count), 0) AS n, coalesce(sum(c.amount), 0) AS a FROM risk_counters c
      WHERE c.scope_key = x.key AND c.width_s = 60 AND c.bucket_start >= r.minute AND c.bucket_start < r.hour) AS m
    CROSS JOIN LATERAL (SELECT coalesce(sum(c.count), 0) AS n, coalesce(sum(c.amount), 0) AS a FROM risk_counters c
      WHERE c.scope_key = x.key AND c.width_s = 3600 AND c.bucket_start >= r.hour AND c.bucket_start < r.day) AS h
    CROSS JOIN LATERAL (SELECT coalesce(sum(c.count), 0) AS n, coalesce(sum(c.amount), 0) AS a FROM risk_counters c
      WHERE c.scope_key = x.key AND c.width_s = 86400 AND c.bucket_start >= r.day) AS d
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
          WHERE x.scope = 2 AND p.merchant_id = k_merchant AND p.created_at >= r.since
            AND p.created_at < CASE WHEN g.by_seconds THEN r.second ELSE r.minute END
      ) AS y) AS e
    WHERE x.needed;
END;
$$;

COMMENT ON FUNCTION risk_payment_usage_needed(text, text, text, smallint[], bigint[], bigint[], bigint[]) IS
  'risk_payment_usage (migration 2190) for the windows some rule can fire in: a window whose count_room and amount_room hold its scope''s bound (its day buckets since its oldest window''s UTC day) comes back with NULL count and amount, uncounted (migration 2260).';

CREATE FUNCTION risk_payment_judge(
  lock_class integer, lock_keys text[],
  k_card text, k_id text, k_merchant text, win_scope smallint[], win_since_ms bigint[],
  win_count_room bigint[], win_amount_room bigint[],
  payment_id text, payment_amount bigint,
  rule_window integer[], rule_max_count bigint[], rule_max_amount bigint[], rule_effect text[], rule_fields text[])
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
  -- One row per window, in window order (w is 0-based: window w at index w + 1); NULL for a
  -- window none of whose rules can fire. A new statement: its snapshot is taken after the locks.
  SELECT array_agg(u.n ORDER BY u.w), array_agg(u.a ORDER BY u.w) INTO used_n, used_a
    FROM risk_payment_usage_needed(k_card, k_id, k_merchant, win_scope, win_since_ms, win_count_room, win_amount_room) AS u;
  FOR i IN 1 .. coalesce(array_length(rule_window, 1), 0) LOOP
    CONTINUE WHEN used_n[rule_window[i] + 1] IS NULL;
    n := used_n[rule_window[i] + 1] + 1;
    a := used_a[rule_window[i] + 1] + payment_amount;
    over_count := rule_max_count[i] IS NOT NULL AND n > rule_max_count[i];
    over_amount := rule_max_amount[i] IS NOT NULL AND a > rule_max_amount[i];
    CONTINUE WHEN NOT (over_count OR over_amount);
    IF rule_effect[i] = 'reject' THEN
      RETURN false;
    END IF;
    item := rule_fields[i]::jsonb;
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

COMMENT ON FUNCTION risk_payment_judge(integer, text[], text, text, text, smallint[], bigint[], bigint[], bigint[], text, bigint, integer[], bigint[], bigint[], text[], text[]) IS
  'The intent statement''s guard of a payment under rules (migrations 1850, 1960): the scope locks, then the windows some rule can fire in counted (risk_payment_usage_needed), then each rule judged; false when an enforced reject fires. Rules'' fields as one JSON text each, parsed only when the rule fires (migration 2260).';
