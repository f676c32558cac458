import type { PayoutStatus } from "../db/index.ts";
import { InvariantError } from "../kernel/errors.ts";

/**
 * A payout's life: `queued` (no rail can take it now) → `processing` (the message is committed
 * and sent; the rail has not said it settled) → `succeeded` | `failed`; a rail that refuses
 * (closed, over its cap) puts it back to `queued`; a succeeded payout the payee's bank sends back
 * becomes `returned`.
 */
const TRANSITIONS: Record<PayoutStatus, readonly PayoutStatus[]> = {
  queued: ["processing"],
  processing: ["queued", "succeeded", "failed"],
  succeeded: ["returned"],
  failed: [],
  returned: [],
};

export function checkTransition(from: PayoutStatus, to: PayoutStatus): void {
  if (!TRANSITIONS[from].includes(to)) throw new InvariantError(`payout cannot go from ${from} to ${to}`);
}

export function isFinal(status: PayoutStatus): boolean {
  return TRANSITIONS[status].length === 0 || status === "succeeded";
}
