-- Buckets older than any window a rule may count (31 days, and a margin) are deleted by the
-- expiry sweep (src/api/sweeper.ts → sweepOldCounters), a bounded batch at a time: this index
-- finds them without reading the table. Payments only ever add to buckets of the current
-- minute, hour and day (and a failure to its payment's own), so the index's old end is cold.
CREATE INDEX risk_counters_bucket_start_idx ON risk_counters (bucket_start);
