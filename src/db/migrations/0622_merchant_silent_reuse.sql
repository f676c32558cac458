-- Cross-entity consent: a card signed at another entity's merchant ID needs the cardholder's own
-- code before this merchant ID gets an agreement, unless an admin marked this merchant ID as
-- trusted for silent reuse (audited as merchant.silent_reuse).
ALTER TABLE merchants ADD COLUMN trusted_for_silent_reuse boolean NOT NULL DEFAULT false;
