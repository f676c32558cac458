/** Bounds of the four-eyes proposals. */
export const PROPOSAL_LIMITS = {
  /** Pending proposals on one target (a merchant ID, a channel): a queue, not a backlog. */
  pending_per_target_max: 20,
  /** A proposal's sealed change; a bigger one is a bug in the kind that makes it. */
  payload_bytes_max: 16 * 1024,
  note_chars_max: 256,
} as const;
