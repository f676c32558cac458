-- A merchant ID's window edges from second buckets instead of a minute of its payments.
--
-- Every window reads its raw edge, the payments of [since, next whole minute), from payments.
-- For a card or an ID holder that is a handful of rows; for a busy merchant ID it is every payment
-- of the merchant ID in up to a minute: the payments bench (BENCH_RISK_RULES=20, one merchant ID at
-- 70-190 payments a second) read thousands of payment rows per merchant window, and its 20 rules
-- cost 2.4-2.5 ms of PostgreSQL's CPU per payment, growing with the merchant ID's rate
-- (docs/risk.md, 2026-12-03).
--
-- 1. Second buckets (width_s 1) of the payment merchant-ID scope, striped as its other buckets:
--    written by paycore's counter upsert from this release on (src/risk/counters.ts), in the
--    statement that writes the payment's other buckets, and taken back out by the same upsert when
--    a payment fails. Swept with the rest after 33 days.
-- 2. fine_count and fine_amount on every bucket row: what writers of this release added (they add
--    the same to count and amount). A process of the previous release (during a rolling start)
--    writes no second bucket and leaves these two alone, so a merchant ID's minute whose rows have
--    fine_count = count and fine_amount = amount (summed over its stripes) had every payment, and
--    every failure's release, written with its second bucket: its second buckets are exact. A
--    previous-release payment makes count exceed fine_count; a previous-release release of a
--    failed payment (a positive amount taken out of amount only) makes amount differ. Minutes
--    written before this migration have fine_count 0 < count: not exact, read as before.
-- 3. risk_payment_usage (migration 1960) replaced, same arguments and results: a merchant-ID
--    window whose edge minute is exact reads the payments of [since, next whole second) and the
--    second buckets up to the next whole minute; otherwise the payments of [since, next whole
--    minute) as before. Card and ID-holder windows are read as before. Being the same function,
--    a process of the previous release calling risk_payment_judge counts the same way, and the
--    count is exact whichever release wrote the rows.
ALTER TABLE risk_counters DROP CONSTRAINT risk_counters_width_s_check;
ALTER TABLE risk_counters ADD CONSTRAINT risk_counters_width_s_check CHECK (width_s IN (1, 60, 3600, 86400)) NOT VALID;
ALTER TABLE risk_counters
  ADD COLUMN fine_count bigint NOT NULL DEFAULT 0,
  ADD COLUMN fine_amount bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION risk_payment_usage(
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
         (m.n + h.n + d.n + s.n + e.n)::int8,
         (m.a + h.a + d.a + s.a + e.a)::int8
    FROM unnest(win_scope, win_since_ms) WITH ORDINALITY AS x(scope, since_ms, i)
    CROSS JOIN LATERAL (
      SELECT CASE x.scope WHEN 0 THEN 'payment:card:' || k_card WHEN 1 THEN 'payment:id:' || k_id ELSE 'payment:merchant:' || k_merchant END AS key,
             to_timestamp(x.since_ms / 1000.0) AS since,
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
      WHERE r.merchant_edge AND c.scope_key = r.key AND c.width_s = 60 AND c.bucket_start = r.minute - interval '1 minute') AS f
    CROSS JOIN LATERAL (SELECT r.merchant_edge AND f.exact AS by_seconds) AS g
    CROSS JOIN LATERAL (SELECT coalesce(sum(c.count), 0) AS n, coalesce(sum(c.amount), 0) AS a FROM risk_counters c
      WHERE g.by_seconds AND c.scope_key = r.key AND c.width_s = 1 AND c.bucket_start >= r.second AND c.bucket_start < r.minute) AS s
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
          WHERE x.scope = 2 AND p.merchant_id = k_merchant AND p.created_at >= r.since
            AND p.created_at < CASE WHEN g.by_seconds THEN r.second ELSE r.minute END
      ) AS y) AS e;
END;
$$;

COMMENT ON FUNCTION risk_payment_usage(text, text, text, smallint[], bigint[]) IS
  'A payment''s count of each window (scope code 0 card, 1 ID holder, 2 merchant ID; start in epoch ms): raw edge to the next whole minute (a merchant ID''s to the next whole second, then second buckets, when its edge minute is exact in them), then minute, hour and day buckets (migrations 1960, 2190).';
