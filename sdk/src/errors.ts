/** paycore answered with an error: `{"error": {"code", "message", "request_id", "field"?}}`. */
export class PaycoreApiError extends Error {
  override readonly name = "PaycoreApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly request_id: string | null,
    readonly field: string | null,
  ) {
    super(`${status} ${code}: ${message}`);
  }

  /** Another try with the same Idempotency-Key may succeed (5xx). */
  get retryable(): boolean {
    return this.status >= 500;
  }
}

/** An answer whose Paycore-Signature is missing or wrong: not from paycore, or altered on the way. */
export class PaycoreSignatureError extends Error {
  override readonly name = "PaycoreSignatureError";
}

/** No answer at all (connection refused, reset, timed out) after every allowed try. */
export class PaycoreNetworkError extends Error {
  override readonly name = "PaycoreNetworkError";
  constructor(
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
  }
}
