-- A payment under rules is counted and judged by the statement that records its intent
-- (src/risk/screen.ts, src/payments/intent.ts), not by a statement of its own before it.
-- risk_payment_judge is that statement's guard: it takes the transaction-level advisory locks of
-- the scopes the enforced reject rules count (class 1000, hashtext of the scope key, ascending:
-- two payments sharing scopes cannot deadlock), then counts every window — a VOLATILE function
-- reads each query with a new snapshot, taken once the locks are granted, so the count sees every
-- payment of a locked scope that committed before, including one that held the lock while this
-- one waited — then judges each rule on that count (the attempt and its amount included). A rule
-- an enforced reject: false, and the statement writes nothing (the payment is judged again in a
-- transaction, which stores the reject with its reasons). Otherwise the decision (outcome, the
-- rules that fired with their figures, a review's alert text) is kept for this payment in a
-- transaction-local setting and the locks stay held to the statement's commit; the statement's
-- decision and alert inserts read it back, by payment id, with risk_payment_decision.
-- Each rule's static fields and its two explanation templates (over the count, over the amount:
-- {count} and {yuan} stand for the figures) come from TypeScript (src/risk/evaluate.ts), so the
-- words are written in one place. The count is the query of risk_payment_window_usage
-- (migration 1304), planned once per connection.
CREATE FUNCTION risk_yuan(fen bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN fen < 0 THEN '-' ELSE '' END || (abs(fen) / 100)::text || '.' || lpad((abs(fen) % 100)::text, 2, '0')
$$;

CREATE FUNCTION risk_payment_judge(
  lock_class integer, lock_keys text[],
  b_w integer[], b_key text[], b_width integer[], b_lo timestamptz[], b_hi timestamptz[],
  k_card text, card_w integer[], card_lo timestamptz[], card_hi timestamptz[],
  k_id text, id_w integer[], id_lo timestamptz[], id_hi timestamptz[],
  k_merchant text, merchant_w integer[], merchant_lo timestamptz[], merchant_hi timestamptz[],
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
  -- Window w (0-based) at index w + 1; a window nothing was counted in stays NULL.
  SELECT array_agg(u.n ORDER BY u.w), array_agg(u.a ORDER BY u.w) INTO used_n, used_a
    FROM (SELECT g.w, coalesce(x.n, 0) AS n, coalesce(x.a, 0) AS a
      FROM generate_series(0, coalesce((SELECT max(r) FROM unnest(rule_window) AS r), -1)) AS g(w)
      LEFT JOIN risk_payment_window_usage(b_w, b_key, b_width, b_lo, b_hi, k_card, card_w, card_lo, card_hi,
        k_id, id_w, id_lo, id_hi, k_merchant, merchant_w, merchant_lo, merchant_hi) AS x ON x.w = g.w) AS u;
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

-- The decision risk_payment_judge kept for this payment in this transaction. Called with the id of
-- the payment row the statement inserted, so it runs after the guard; a decision kept for another
-- payment, or none, is a broken invariant.
CREATE FUNCTION risk_payment_decision(for_payment_id text)
RETURNS TABLE (outcome text, fired jsonb, alert_rule_id text, alert text) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  d jsonb := nullif(current_setting('paycore.risk_decision', true), '')::jsonb;
BEGIN
  IF d IS NULL OR d ->> 'payment_id' IS DISTINCT FROM for_payment_id THEN
    RAISE EXCEPTION 'no risk decision was judged for payment %', for_payment_id;
  END IF;
  RETURN QUERY SELECT d ->> 'outcome', d -> 'fired', d ->> 'alert_rule_id', d ->> 'alert';
END;
$$;
