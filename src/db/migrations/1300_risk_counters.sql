-- Risk counters in time buckets, so that a rule's window reads a bounded number of small rows
-- instead of every payment (or signing) of its scope in the window.
--
-- Every payment adds itself to three buckets (one minute, one hour, one UTC day) of each of its
-- scopes (card, ID holder, merchant ID; signings also per phone), in the transaction that records
-- it. A window [start, now] is read as: the payments of [start, next minute) from the payments
-- table (at most one minute of one scope), whole minutes up to the next hour, whole hours up to
-- the next day, whole days after that: at most 60 + 24 + 31 bucket rows per window, exact.
--
-- `count` is attempts of every status; `amount` (fen) is of payments that succeeded or may still
-- succeed: a payment that fails takes its amount back out of its buckets in the transaction that
-- makes it fail. Merchant-ID buckets are split into stripes (chosen by the payment id) so that
-- concurrent payments of one merchant ID do not all queue on one row; reads sum the stripes.
CREATE TABLE risk_counters (
  -- '<payment|signing>:<card|id|merchant|phone>:<card_id, ID fingerprint, merchant_id or phone fingerprint>'
  scope_key     text NOT NULL,
  width_s       integer NOT NULL CHECK (width_s IN (60, 3600, 86400)),
  bucket_start  timestamptz NOT NULL,
  stripe        smallint NOT NULL CHECK (stripe BETWEEN 0 AND 7),
  count         bigint NOT NULL,
  amount        bigint NOT NULL,
  PRIMARY KEY (scope_key, width_s, bucket_start, stripe)
);

-- The history the rules may look back on (31 days and a margin) goes into the buckets once.
INSERT INTO risk_counters (scope_key, width_s, bucket_start, stripe, count, amount)
SELECT k.scope_key, w.width_s, date_bin(make_interval(secs => w.width_s), p.created_at, TIMESTAMPTZ '1970-01-01 00:00:00+00'), 0,
       count(*), coalesce(sum(p.amount) FILTER (WHERE p.status <> 'failed'), 0)
FROM payments p
JOIN cards c ON c.card_id = p.card_id
CROSS JOIN LATERAL (VALUES ('payment:card:' || p.card_id), ('payment:id:' || c.id_fingerprint), ('payment:merchant:' || p.merchant_id)) AS k(scope_key)
CROSS JOIN (VALUES (60), (3600), (86400)) AS w(width_s)
WHERE p.created_at >= now() - interval '33 days'
GROUP BY 1, 2, 3;

INSERT INTO risk_counters (scope_key, width_s, bucket_start, stripe, count, amount)
SELECT k.scope_key, w.width_s, date_bin(make_interval(secs => w.width_s), s.created_at, TIMESTAMPTZ '1970-01-01 00:00:00+00'), 0, count(*), 0
FROM risk_signings s
CROSS JOIN LATERAL (VALUES ('signing:card:' || s.card_id), ('signing:id:' || s.id_fingerprint), ('signing:merchant:' || s.merchant_id), ('signing:phone:' || s.phone_fingerprint)) AS k(scope_key)
CROSS JOIN (VALUES (60), (3600), (86400)) AS w(width_s)
WHERE s.created_at >= now() - interval '33 days'
GROUP BY 1, 2, 3;
