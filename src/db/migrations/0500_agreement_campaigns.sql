-- Batch signing campaigns (docs/domain.md point 5, "no silent migration"): a merchant invites its users
-- by SMS to a hosted page where each cardholder enters the four elements and the bank's code.
-- Nothing here holds card data: an invitation knows a user reference, a name and a phone (sealed).

CREATE TABLE agreement_campaigns (
  campaign_id        text PRIMARY KEY,
  merchant_id        text NOT NULL REFERENCES merchants(merchant_id),
  out_campaign_no    text NOT NULL,
  -- keyed fingerprint of the request: a repeat with the same body finds the campaign
  request_hash       text NOT NULL,
  invitation_count   integer NOT NULL CHECK (invitation_count BETWEEN 1 AND 1000),
  link_ttl_hours     integer NOT NULL CHECK (link_ttl_hours BETWEEN 1 AND 720),
  links_expire_at    timestamptz NOT NULL,
  -- where the links point (paycore's public URL when the campaign was made): retries reuse it
  public_base_url    text NOT NULL,
  created_at         timestamptz NOT NULL,
  UNIQUE (merchant_id, out_campaign_no)
);
CREATE INDEX agreement_campaigns_merchant_idx ON agreement_campaigns (merchant_id, created_at);

CREATE TABLE campaign_invitations (
  invitation_id     text PRIMARY KEY,
  campaign_id       text NOT NULL REFERENCES agreement_campaigns(campaign_id),
  merchant_id       text NOT NULL REFERENCES merchants(merchant_id),
  position          integer NOT NULL CHECK (position >= 0),
  user_ref          text NOT NULL,
  holder_name_enc   text NOT NULL,
  phone_enc         text NOT NULL,
  phone_last4       text NOT NULL,
  -- keyed hash of the link's token (256 random bits); the token itself is never stored
  token_hash        text NOT NULL UNIQUE,
  status            text NOT NULL CHECK (status IN ('invited', 'opened', 'signed', 'failed', 'expired')),
  -- card submissions that reached signing; also the version the page's form token is bound to
  sign_attempts     integer NOT NULL DEFAULT 0 CHECK (sign_attempts >= 0),
  sign_request_id   text,
  agreement_id      text,
  failure_code      text,
  sms_status        text NOT NULL CHECK (sms_status IN ('pending', 'sent', 'failed')),
  sms_attempts      integer NOT NULL DEFAULT 0 CHECK (sms_attempts >= 0),
  sms_next_at       timestamptz,
  sms_error         text,
  expires_at        timestamptz NOT NULL,
  opened_at         timestamptz,
  signed_at         timestamptz,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  UNIQUE (campaign_id, user_ref),
  UNIQUE (campaign_id, position),
  CHECK (status <> 'signed' OR agreement_id IS NOT NULL)
);
CREATE INDEX campaign_invitations_campaign_idx ON campaign_invitations (campaign_id, status);
CREATE INDEX campaign_invitations_sms_due_idx ON campaign_invitations (sms_next_at) WHERE sms_status = 'pending';
CREATE INDEX campaign_invitations_merchant_idx ON campaign_invitations (merchant_id, created_at);
