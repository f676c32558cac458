-- Agreement payments: the card vault, card agreements with the networks, merchants' agreements,
-- sign requests, payments and refunds.

-- The card vault. Four elements sealed at rest; a keyed fingerprint finds "the same card"
-- without decrypting. CVN2 and expiry are never stored.
CREATE TABLE cards (
  card_id           text PRIMARY KEY,
  card_fingerprint  text NOT NULL UNIQUE,
  card_number_enc   text NOT NULL,
  bin               text NOT NULL,
  last4             text NOT NULL,
  bank_code         text NOT NULL,
  bank_name         text NOT NULL,
  card_type         text NOT NULL CHECK (card_type IN ('debit', 'credit')),
  holder_name_enc   text NOT NULL,
  id_number_enc     text NOT NULL,
  id_fingerprint    text NOT NULL,
  phone_enc         text NOT NULL,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL
);

-- The card's agreement with one network (the network's agreement number): one active per card
-- per network. `origin` says whether the cardholder signed it (OTP) or it was synced from another
-- network's registry (三库统一).
CREATE TABLE card_agreements (
  card_agreement_id     text PRIMARY KEY,
  card_id               text NOT NULL REFERENCES cards(card_id),
  channel_id            text NOT NULL,
  network_agreement_no  text NOT NULL,
  verified_elements     text,
  origin                text NOT NULL CHECK (origin IN ('signed', 'synced')),
  status                text NOT NULL CHECK (status IN ('active', 'unbound')),
  created_at            timestamptz NOT NULL,
  unbound_at            timestamptz,
  unbound_reason        text
);
CREATE UNIQUE INDEX card_agreements_active_idx ON card_agreements (card_id, channel_id) WHERE status = 'active';
CREATE INDEX card_agreements_network_no_idx ON card_agreements (channel_id, network_agreement_no);

-- What a merchant ID holds and pays with (`agr_…`): one active per merchant ID per card.
CREATE TABLE agreements (
  agreement_id     text PRIMARY KEY,
  merchant_id      text NOT NULL REFERENCES merchants(merchant_id),
  user_ref         text NOT NULL,
  card_id          text NOT NULL REFERENCES cards(card_id),
  sign_request_id  text,
  status           text NOT NULL CHECK (status IN ('active', 'unbound')),
  created_at       timestamptz NOT NULL,
  unbound_at       timestamptz,
  unbound_reason   text
);
CREATE UNIQUE INDEX agreements_active_idx ON agreements (merchant_id, card_id) WHERE status = 'active';
CREATE INDEX agreements_user_idx ON agreements (merchant_id, user_ref);
CREATE INDEX agreements_card_idx ON agreements (card_id);

CREATE TABLE sign_requests (
  sign_request_id   text PRIMARY KEY,
  merchant_id       text NOT NULL REFERENCES merchants(merchant_id),
  out_request_no    text NOT NULL,
  request_hash      text NOT NULL,
  user_ref          text NOT NULL,
  card_id           text NOT NULL REFERENCES cards(card_id),
  -- The four elements as submitted, sealed: the vault takes them once the bank has verified them.
  card_elements_enc text NOT NULL,
  -- bank_otp: the bank sends the code (a new card agreement); platform_otp: paycore's own
  -- step-up code for a card already signed on the platform; reuse: signed on the platform, this
  -- merchant ID needs no confirmation of its own.
  kind              text NOT NULL CHECK (kind IN ('bank_otp', 'platform_otp', 'reuse')),
  purpose           text NOT NULL CHECK (purpose IN ('sign', 'sign_and_pay', 'campaign')),
  channel_id        text,
  -- paycore's transaction id of the sign apply at the network (confirm and resend name it).
  sign_txn_id       text,
  -- applying: recorded before the network call, which has not answered yet.
  status            text NOT NULL CHECK (status IN ('applying', 'otp_sent', 'signed', 'failed', 'expired')),
  otp_hash          text,
  otp_expires_at    timestamptz,
  otp_attempts      integer NOT NULL DEFAULT 0,
  otp_sent_count    integer NOT NULL DEFAULT 1,
  last_otp_sent_at  timestamptz NOT NULL,
  failure_code      text,
  agreement_id      text,
  payment_request   jsonb,
  payment_id        text,
  expires_at        timestamptz NOT NULL,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  UNIQUE (merchant_id, out_request_no)
);

CREATE TABLE payments (
  payment_id          text PRIMARY KEY,
  merchant_id         text NOT NULL REFERENCES merchants(merchant_id),
  sub_merchant_id     text REFERENCES merchants(merchant_id),
  out_trade_no        text NOT NULL,
  request_hash        text NOT NULL,
  agreement_id        text NOT NULL REFERENCES agreements(agreement_id),
  card_id             text NOT NULL REFERENCES cards(card_id),
  channel_id          text,
  card_agreement_id   text,
  route_reason        text,
  -- paycore's transaction id at the network: the same on every retry and query.
  txn_id              text NOT NULL UNIQUE,
  -- the network's own id for the debit, once it tells us.
  network_txn_id      text,
  amount              bigint NOT NULL CHECK (amount > 0),
  currency            text NOT NULL CHECK (currency = 'CNY'),
  fee                 bigint CHECK (fee >= 0),
  network_cost        bigint CHECK (network_cost >= 0),
  status              text NOT NULL CHECK (status IN ('processing', 'succeeded', 'failed')),
  -- Where the network call stands: intent recorded, sent (outcome unknown), or final.
  network_state       text NOT NULL CHECK (network_state IN ('intent', 'sent', 'final')),
  failure_code        text,
  failure_message     text,
  description         text NOT NULL,
  metadata            jsonb,
  notify_url          text,
  refunded_amount     bigint NOT NULL DEFAULT 0,
  query_attempts      integer NOT NULL DEFAULT 0,
  next_query_at       timestamptz,
  alert               boolean NOT NULL DEFAULT false,
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  succeeded_at        timestamptz,
  failed_at           timestamptz,
  UNIQUE (merchant_id, out_trade_no),
  CHECK (refunded_amount >= 0 AND refunded_amount <= amount)
);
CREATE INDEX payments_merchant_idx ON payments (merchant_id, payment_id);
CREATE INDEX payments_card_day_idx ON payments (card_id, created_at);
CREATE INDEX payments_sweep_idx ON payments (next_query_at) WHERE status = 'processing';

CREATE TABLE refunds (
  refund_id         text PRIMARY KEY,
  payment_id        text NOT NULL REFERENCES payments(payment_id),
  merchant_id       text NOT NULL REFERENCES merchants(merchant_id),
  out_refund_no     text NOT NULL,
  request_hash      text NOT NULL,
  amount            bigint NOT NULL CHECK (amount > 0),
  reason            text,
  status            text NOT NULL CHECK (status IN ('processing', 'succeeded', 'failed')),
  network_state     text NOT NULL CHECK (network_state IN ('intent', 'sent', 'final')),
  channel_id        text NOT NULL,
  txn_id            text NOT NULL UNIQUE,
  network_txn_id    text,
  failure_code      text,
  failure_message   text,
  fee_returned      bigint CHECK (fee_returned >= 0),
  query_attempts    integer NOT NULL DEFAULT 0,
  next_query_at     timestamptz,
  alert             boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  succeeded_at      timestamptz,
  UNIQUE (merchant_id, out_refund_no)
);
CREATE INDEX refunds_payment_idx ON refunds (payment_id);
CREATE INDEX refunds_sweep_idx ON refunds (next_query_at) WHERE status = 'processing';
