-- A correction of migration 1960's header, which describes a version of risk_payment_usage that
-- did not land: its ranges are not written as row comparisons. They were tried: PostgreSQL 15's
-- B-tree positions a scan at a row comparison's lower bound but does not stop it at its upper
-- bound (only the first column of a row comparison ends a scan), so each probe read on to the end
-- of the scope's entries — for a merchant ID's edge, by payments_merchant_idx, every payment of the
-- merchant ID. The ranges are plain equalities and bounds, and what makes every bucket range a
-- probe of risk_counters_pkey is enable_seqscan and enable_bitmapscan off: the primary key has
-- every condition risk_counters_bucket_start_idx has and two equalities more, and was the plan on
-- a fresh schema, on 200,000 payments never analyzed and on the same analyzed (auto_explain,
-- 2026-12-02). Which index of payments reads a raw edge (under a minute of one scope) is still
-- the planner's choice; docs/risk.md says what it chooses.
COMMENT ON FUNCTION risk_payment_usage(text, text, text, smallint[], bigint[]) IS
  'A payment''s count of each window (scope code 0 card, 1 ID holder, 2 merchant ID; start in epoch ms): raw edge to the next whole minute, then minute, hour and day buckets (migration 1960; see 1961).';
