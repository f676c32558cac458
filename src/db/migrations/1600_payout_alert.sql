-- A payout whose message the rail has neither settled nor refused after about an hour of status
-- queries (for instance a rail whose query never finds the message and that answers every resend
-- with DUPL) is flagged for operators; paycore keeps asking, every ten minutes. The money stays
-- reserved: it may have left.
ALTER TABLE payouts ADD COLUMN alert boolean NOT NULL DEFAULT false;
CREATE INDEX payouts_alert_idx ON payouts (payout_id) WHERE status = 'processing' AND alert;
