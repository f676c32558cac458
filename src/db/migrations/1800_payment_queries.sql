-- The sweeper's marker moves off the payments table, so that a payment's outcome is a HOT update.
--
-- A payment whose outcome is not known has one row here, written in the intent's statement and
-- deleted in the statement that makes the payment final (src/payments/intent.ts, outcomes.ts):
-- `payment_queries` holds exactly the `processing` payments, and when the sweeper asks the network
-- about each (src/payments/sweeper.ts). Until now that was the partial index payments_sweep_idx
-- (next_query_at) WHERE status = 'processing': the outcome changed both its key and its
-- predicate, so the update could not be HOT and every index of payments took a new entry for the
-- new row version, on every payment. No index of payments now names a column the outcome
-- changes (status, network_state, fee, network_cost, network_txn_id, next_query_at, alert,
-- updated_at, succeeded_at, failed_at, failure_*), and the fillfactor leaves room on each page
-- for the new version, so the outcome's update stays on its page and writes no index entry.
--
-- No foreign key to payments: the marker is only ever written from the payment row the same
-- statement inserts (or, for an outcome still pending, updates), and a key check would cost the
-- intent a lookup and a row lock on the payment it has just inserted.
CREATE TABLE payment_queries (
  payment_id    text PRIMARY KEY,
  -- When the sweeper asks the network next; while it asks, the end of its lease.
  next_query_at timestamptz NOT NULL
);
CREATE INDEX payment_queries_due_idx ON payment_queries (next_query_at);

INSERT INTO payment_queries (payment_id, next_query_at)
SELECT payment_id, coalesce(next_query_at, now()) FROM payments WHERE status = 'processing';

DROP INDEX payments_sweep_idx;

-- Room on each page for a payment's second version (the outcome) beside its first: a row is
-- about 500 bytes, so 20 % of an 8 KB page holds three new versions while older ones are pruned.
-- Pages written before this keep their fill; it applies to pages filled from now on.
ALTER TABLE payments SET (fillfactor = 80);
