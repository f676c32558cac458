import { InvariantError } from "../kernel/errors.ts";

/**
 * State machines as tables: every allowed transition is listed, one function applies them, and
 * anything else is a bug. `processing` means the network's outcome is not known yet.
 */
export type PaymentStatus = "processing" | "succeeded" | "failed";
export type RefundStatus = PaymentStatus;
export type SignRequestStatus = "applying" | "otp_sent" | "signed" | "failed" | "expired";

export const PAYMENT_TRANSITIONS: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  processing: ["processing", "succeeded", "failed"],
  succeeded: [],
  failed: [],
};

export const REFUND_TRANSITIONS = PAYMENT_TRANSITIONS;

export const SIGN_REQUEST_TRANSITIONS: Readonly<Record<SignRequestStatus, readonly SignRequestStatus[]>> = {
  applying: ["applying", "otp_sent", "failed"],
  otp_sent: ["otp_sent", "signed", "failed", "expired"],
  signed: [],
  failed: [],
  expired: [],
};

export function assertTransition<S extends string>(table: Readonly<Record<S, readonly S[]>>, what: string, from: S, to: S): void {
  if (!table[from].includes(to)) throw new InvariantError(`${what}: ${from} → ${to} is not an allowed transition`);
}

export function isFinal(status: PaymentStatus): boolean {
  switch (status) {
    case "processing":
      return false;
    case "succeeded":
    case "failed":
      return true;
  }
}

/** Status queries back off 1, 2, 4, 8, 16, 32 s, then every minute, up to a limit; then an alert. */
export const QUERY_BACKOFF_S = [1, 2, 4, 8, 16, 32] as const;
export const QUERY_STEADY_INTERVAL_S = 60;
export const QUERY_ATTEMPTS_MAX = 6 + 60; // about an hour of minute-by-minute queries

export function nextQueryDelayMs(attempts_done: number): number | null {
  if (attempts_done >= QUERY_ATTEMPTS_MAX) return null;
  const s = attempts_done < QUERY_BACKOFF_S.length ? QUERY_BACKOFF_S[attempts_done]! : QUERY_STEADY_INTERVAL_S;
  return s * 1000;
}
