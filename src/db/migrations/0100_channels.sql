-- Channel configuration: the networks paycore may route to, what each costs, where it is, and
-- which key files it uses. Agreement networks are seeded enabled; payout rails are placeholders
-- (disabled) until the payouts capability uses them.

CREATE TABLE channels (
  channel_id        text PRIMARY KEY
                    CHECK (channel_id IN ('netsunion', 'unionpay_nocard', 'unionpay_quickpay', 'hvps', 'beps', 'ibps', 'bank_direct')),
  kind              text NOT NULL CHECK (kind IN ('agreement', 'payout')),
  display_name      text NOT NULL,
  enabled           boolean NOT NULL,
  -- Lower runs first when costs tie.
  priority          integer NOT NULL CHECK (priority BETWEEN 0 AND 1000),
  -- What the network charges per transaction: amount × cost_bps / 10000 + cost_fixed_fen.
  cost_bps          integer NOT NULL CHECK (cost_bps BETWEEN 0 AND 10000),
  cost_fixed_fen    bigint NOT NULL CHECK (cost_fixed_fen BETWEEN 0 AND 100000000),
  -- Takes part in the unified signing registries (三库统一); legacy products never do.
  unified_network   boolean NOT NULL,
  legacy            boolean NOT NULL,
  -- Bank codes served; NULL = every bank.
  banks             text[],
  -- NULL: the sandbox (SANDBOX_URL or the one paycore starts).
  endpoint_url      text CHECK (endpoint_url IS NULL OR endpoint_url ~ '^https?://'),
  -- paycore's id at the network (NetsUnion InstgId, UnionPay merId).
  institution_id    text NOT NULL,
  timeout_ms        integer NOT NULL CHECK (timeout_ms BETWEEN 100 AND 120000),
  -- Names of key files under the data directory (private keys never enter the database).
  keys              jsonb NOT NULL DEFAULT '{}'::jsonb,
  version           integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CHECK (NOT (legacy AND unified_network))
);

INSERT INTO channels (channel_id, kind, display_name, enabled, priority, cost_bps, cost_fixed_fen, unified_network, legacy, institution_id, timeout_ms, keys) VALUES
  ('netsunion', 'agreement', '网联 NetsUnion agreement payment', true, 10, 4, 0, true, false, 'Z2000000000001', 10000,
   '{"own_private": "channels/keys/paycore-netsunion.sm2.key.json", "own_public": "keys/paycore-netsunion.sm2.json", "network_public": "keys/netsunion.sm2.json"}'),
  ('unionpay_nocard', 'agreement', '银联新无卡 UnionPay new no-card', true, 20, 5, 0, true, false, '898000000000001', 10000,
   '{"own_private": "channels/keys/paycore-unionpay.rsa.key.pem", "own_public": "keys/paycore-unionpay.cert.pem", "network_public": "keys/unionpay.cert.pem"}'),
  ('unionpay_quickpay', 'agreement', '银联全渠道快捷 UnionPay quick pay (legacy)', true, 90, 6, 10, false, true, '898000000000001', 10000,
   '{"own_private": "channels/keys/paycore-unionpay.rsa.key.pem", "own_public": "keys/paycore-unionpay.cert.pem", "network_public": "keys/unionpay.cert.pem"}'),
  ('hvps', 'payout', '大额支付系统 HVPS', false, 10, 0, 0, false, false, 'hvps', 10000, '{}'),
  ('beps', 'payout', '小额支付系统 BEPS', false, 20, 0, 0, false, false, 'beps', 10000, '{}'),
  ('ibps', 'payout', '超级网银 IBPS', false, 30, 0, 0, false, false, 'ibps', 10000, '{}'),
  ('bank_direct', 'payout', '银企直联 bank-enterprise direct', false, 40, 0, 0, false, false, 'bank_direct', 10000, '{}');
