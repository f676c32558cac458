-- A sub-merchant ID's payment list (GET /v1/payments) holds its own payments and those its parent
-- made for it (sub_merchant_id). Each half is now read in payment_id order from its own index and
-- the two merged (src/payments/payments.ts, listPayments); only payments made for a sub-merchant
-- have an entry here.
CREATE INDEX payments_sub_merchant_idx ON payments (sub_merchant_id, payment_id) WHERE sub_merchant_id IS NOT NULL;
