/** Batch signing campaigns: every bound has a name (a limit on everything). */
export const CAMPAIGN_LIMITS = {
  /** Invitations in one campaign (the request body limit may bind first: ~600 at 64 KiB). */
  invitations_per_campaign_max: 1_000,
  /** Invitations one merchant ID may create in any 24 hours: campaign SMS are not a spam channel. */
  invitations_per_merchant_per_day_max: 10_000,
  link_ttl_hours_default: 7 * 24,
  link_ttl_hours_max: 30 * 24,
  /** Random bytes in a link token: 256 bits, base64url (43 characters). */
  token_bytes: 32,
  token_chars: 43,
  /** Card submissions per invitation that reach signing; then the invitation fails. */
  sign_attempts_max: 5,
  /** SMS sends per invitation (first try included); then the invitation fails. */
  sms_attempts_max: 5,
  /** Wait before retry n (1-based) of an invitation SMS. */
  sms_retry_backoff_ms: [60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000] as const,
  /** A claimed send is left alone by other retriers for this long. */
  sms_claim_lease_ms: 60_000,
  /** Invitation SMS sent at once by one campaign creation or one retry pass. */
  sms_concurrency_max: 16,
  /** Invitation SMS one retry pass picks up. */
  sms_retry_batch_max: 100,
  /** Wall-clock budget for sending a new campaign's SMS inside its request; the rest is retried. */
  sms_inline_budget_ms: 20_000,
  /** Merchant name as quoted in an SMS or a page title. */
  merchant_name_in_sms_chars_max: 40,
  public_base_url_chars_max: 200,
  /** Bytes of a hosted-page form POST (four elements and a few hidden fields fit in far less). */
  form_body_bytes_max: 4_096,
  /** Rows written per INSERT statement. */
  insert_batch_rows_max: 250,
  sms_error_chars_max: 200,
} as const;
