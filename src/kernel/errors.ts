/**
 * The error codes of the public contract (docs/api-conventions.md) and their HTTP statuses.
 * Codes are never renamed or dropped; a new, narrower code may join a family (its message and
 * the docs name the family), as `duplicate_out_refund_no` did `duplicate_out_trade_no`.
 * Inside paycore, code throws `PaycoreError` with one of these codes; the API edge maps it.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_signature: 401,
  replayed_request: 401,
  unauthorized: 401,
  forbidden: 403,
  merchant_suspended: 403,
  not_found: 404,
  method_not_allowed: 405,
  idempotency_conflict: 409,
  duplicate_out_trade_no: 409,
  /** Of the `duplicate_out_trade_no` family: the natural key of a refund. */
  duplicate_out_refund_no: 409,
  otp_invalid: 422,
  otp_expired: 422,
  otp_attempts_exceeded: 422,
  agreement_inactive: 422,
  resign_required: 422,
  amount_exceeds_refundable: 422,
  /** The payment is not `succeeded` (still processing, or failed): there is nothing to refund. */
  payment_not_refundable: 422,
  /** A day that has not come yet (Beijing time), e.g. a statement for tomorrow. */
  date_in_future: 422,
  /**
   * A settlement run for a date that has not begun: the business day before it (whose close
   * starts the date) has not closed yet. The message names that day and its close time.
   */
  business_day_not_closed: 422,
  limit_exceeded: 422,
  risk_rejected: 422,
  insufficient_balance: 422,
  /** A payout of a merchant ID under a settlement hold (risk): its money does not leave until the hold is released. */
  payouts_held: 422,
  rate_limited: 429,
  internal: 500,
  channel_unavailable: 503,
  rail_unavailable: 503,
  /** The database (or another part paycore needs) is down: retry later. */
  service_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class PaycoreError extends Error {
  readonly code: ErrorCode;
  /** Dotted path of the offending input field, for `invalid_request`. */
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, field?: string) {
    super(message);
    this.name = "PaycoreError";
    this.code = code;
    this.field = field;
  }

  get httpStatus(): number {
    return ERROR_STATUS[this.code];
  }
}

export function invalidRequest(field: string, message: string): PaycoreError {
  return new PaycoreError("invalid_request", `${field}: ${message}`, field);
}

export function notFound(what: string): PaycoreError {
  return new PaycoreError("not_found", `${what} not found`);
}

/** A broken invariant: a bug, never bad input. The process should not carry on as if nothing happened. */
export class InvariantError extends Error {
  constructor(message: string) {
    super(`invariant violated: ${message}`);
    this.name = "InvariantError";
  }
}
