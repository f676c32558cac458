-- Undoes migration 1800: the sweeper finds processing payments by the partial index again.
--
-- 1800 moved the sweeper's marker to payment_queries so that a payment's outcome would be a HOT
-- update. It was (100 % of payment updates in the bench), but PostgreSQL's CPU per payment did
-- not fall: on the quiet machine, alternating, 2.58 / 2.60 / 2.51 ms without it against 2.78 /
-- 2.67 / 2.68 with it (docs/performance.md): the marker's insert and delete cost about what the
-- non-HOT update's index entries did. payments.next_query_at was kept up to date beside the
-- marker (the sweeper's lease lived only in the marker: a payment leased when this runs is due
-- at its schedule, and is at most asked once more).
CREATE INDEX payments_sweep_idx ON payments (next_query_at) WHERE status = 'processing';
ALTER TABLE payments RESET (fillfactor);
DROP TABLE payment_queries;
