-- Notifications: a transactional outbox (events written in the same transaction as the state
-- change they announce), deliveries to the merchant's URL with retries, and a log of attempts.

CREATE TABLE notify_events (
  event_id      text PRIMARY KEY,
  merchant_id   text NOT NULL REFERENCES merchants(merchant_id),
  type          text NOT NULL CHECK (type IN (
                  'payment.succeeded', 'payment.failed', 'refund.succeeded', 'refund.failed',
                  'agreement.signed', 'agreement.unbound', 'payout.succeeded', 'payout.failed')),
  data          jsonb NOT NULL,
  -- The URL the producer named (a payment's notify_url); null = the merchant's default.
  notify_url    text,
  -- The producer's key for "this business event": one event per key and merchant ID.
  dedupe_key    text,
  -- Mirrors the latest delivery: pending | delivered | failed; no_url when none could be made.
  status        text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'no_url')),
  created_at    timestamptz NOT NULL,
  delivered_at  timestamptz,
  updated_at    timestamptz NOT NULL,
  UNIQUE (merchant_id, dedupe_key)
);
CREATE INDEX notify_events_merchant_idx ON notify_events (merchant_id, event_id);
CREATE INDEX notify_events_status_idx ON notify_events (status, event_id);

CREATE TABLE notify_deliveries (
  delivery_id     text PRIMARY KEY,
  event_id        text NOT NULL REFERENCES notify_events(event_id),
  merchant_id     text NOT NULL,
  url             text NOT NULL,
  origin          text NOT NULL CHECK (origin IN ('initial', 'redeliver')),
  status          text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  -- Attempts started so far (incremented when a worker claims the delivery).
  attempt_count   integer NOT NULL CHECK (attempt_count >= 0),
  next_attempt_at timestamptz NOT NULL,
  -- A worker holds the delivery until then; after it, another worker may take it over.
  lease_until     timestamptz,
  created_at      timestamptz NOT NULL,
  finished_at     timestamptz,
  updated_at      timestamptz NOT NULL,
  CHECK ((status = 'pending') = (finished_at IS NULL))
);
-- At most one delivery of an event is under way at any time.
CREATE UNIQUE INDEX notify_deliveries_one_pending_idx ON notify_deliveries (event_id) WHERE status = 'pending';
CREATE INDEX notify_deliveries_due_idx ON notify_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notify_deliveries_event_idx ON notify_deliveries (event_id, delivery_id);

CREATE TABLE notify_attempts (
  delivery_id   text NOT NULL REFERENCES notify_deliveries(delivery_id),
  attempt_no    integer NOT NULL CHECK (attempt_no >= 1),
  event_id      text NOT NULL,
  result        text NOT NULL CHECK (result IN (
                  'in_flight', 'acknowledged', 'http_error', 'timeout', 'network_error', 'no_key', 'abandoned')),
  http_status   integer,
  error         text,
  started_at    timestamptz NOT NULL,
  duration_ms   integer,
  PRIMARY KEY (delivery_id, attempt_no)
);
CREATE INDEX notify_attempts_event_idx ON notify_attempts (event_id);
