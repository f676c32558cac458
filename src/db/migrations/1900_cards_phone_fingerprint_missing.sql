-- Cards stored before 1701 have no phone fingerprint; the merchant monitor fills them in batches
-- (src/risk/monitor/features.ts). This partial index finds the ones left without reading the
-- whole cards table on every hourly run; once all are filled it is empty.
CREATE INDEX cards_phone_fingerprint_missing_idx ON cards (card_id) WHERE phone_fingerprint IS NULL;
