import { channel } from "node:diagnostics_channel";

/**
 * Facts the money path announces for whoever watches (the metrics module), over Node's
 * diagnostics channels: publishing costs one boolean check when nobody subscribes, and the payment
 * path never imports the metrics module. Published after the fact is committed where the caller
 * can (outcomes); a ledger posting is announced inside its transaction, so a rolled-back posting
 * may be counted: posting rates are an operations signal, the ledger check is the truth.
 */
export interface OutcomeFact {
  kind: "payment" | "refund";
  /** The network the transaction went through; null when none was chosen. */
  channel_id: string | null;
  status: "succeeded" | "failed";
  created_at: Date;
  final_at: Date;
}

export interface PostingFact {
  event_type: string;
}

export interface DeliveryFact {
  /** acknowledged | http_error | timeout | network_error | no_key | refused */
  result: string;
}

const outcomes = channel("paycore.outcome");
const postings = channel("paycore.ledger.posting");
const deliveries = channel("paycore.notify.attempt");

export const OBSERVED = { outcomes, postings, deliveries } as const;

export function publishOutcome(fact: OutcomeFact): void {
  if (outcomes.hasSubscribers) outcomes.publish(fact);
}

export function publishPosting(fact: PostingFact): void {
  if (postings.hasSubscribers) postings.publish(fact);
}

export function publishDelivery(fact: DeliveryFact): void {
  if (deliveries.hasSubscribers) deliveries.publish(fact);
}
