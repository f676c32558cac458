-- The console's overview (GET /admin/v1/stats/overview) sums a period of payments, refunds,
-- payouts and risk alerts by creation time: a range scan on created_at instead of the whole table.
-- One more index entry per insert on each table.
CREATE INDEX payments_created_idx ON payments (created_at);
CREATE INDEX refunds_created_idx ON refunds (created_at);
CREATE INDEX payouts_created_idx ON payouts (created_at);
CREATE INDEX risk_alerts_created_idx ON risk_alerts (created_at);
