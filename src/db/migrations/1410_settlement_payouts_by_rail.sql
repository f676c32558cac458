-- Settlement payouts go through the payout path (issue 11): a settlement payout instruction is
-- paid by one payout (routed like any other over HVPS/BEPS/IBPS/bank-direct), linked here; the
-- instruction and its settlement records follow the payout's final state (docs/ledger.md).
ALTER TABLE payouts ADD COLUMN settlement_instruction_id text UNIQUE REFERENCES settlement_payouts(instruction_id);

-- A settlement payout the payee's bank sent back (退汇) after it settled.
ALTER TABLE settlement_payouts DROP CONSTRAINT IF EXISTS settlement_payouts_status_check;
ALTER TABLE settlement_payouts ADD CONSTRAINT settlement_payouts_status_check CHECK (status IN ('created', 'pending', 'succeeded', 'failed', 'returned'));
