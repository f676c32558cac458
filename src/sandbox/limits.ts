/** Every queue, table and window of the sandbox has a named maximum. */
export const SANDBOX_LIMITS = {
  otp_digits: 6,
  otp_ttl_ms: 5 * 60 * 1000,
  otp_resend_interval_ms: 60 * 1000,
  otp_wrong_attempts_max: 5,
  otp_resends_max: 5,
  refund_window_days: 180,
  sms_per_phone_max: 50,
  sms_total_max: 10_000,
  /** Transactions held in memory (and in the snapshot); older finished ones are retired first (src/sandbox/engine.ts). */
  records_max: 200_000,
  /** A transaction stays in memory this long (idempotent repeats, status queries), then is retired. */
  records_retention_ms: 5 * 60 * 1000,
  /** Transactions retired in one turn of the event loop. */
  records_retire_batch_max: 2_000,
  /** Retirement passes are at least this far apart (clock time). */
  records_retire_interval_ms: 1_000,
  /** Retired successful debits and refunds kept on disk for statements, queries and refunds (src/sandbox/archive.ts). */
  archive_bytes_max: 4 * 1024 * 1024 * 1024,
  /** Archive files (one per network and settlement day) kept at most. */
  archive_files_max: 3 * 400,
  /** A search of the archive (a refund or query of a retired transaction) reads at most this much, newest days first. */
  archive_search_bytes_max: 512 * 1024 * 1024,
  /** Searches of the archive at once; one more answers busy. */
  archive_searches_max: 4,
  /** Sign requests are forgotten this long after their code expired. */
  sign_request_retention_ms: 24 * 60 * 60 * 1000,
  sign_requests_max: 100_000,
  /**
   * Agreements kept (active ones, which are never forgotten, and those unbound within the
   * retention): a full catalogue (10,000 cards) signed at all three networks, three times over.
   */
  agreements_max: 100_000,
  cards_max: 10_000,
  fault_rules_max: 100,
  fault_latency_ms_max: 60_000,
  /** A `timeout` fault holds the connection this long at most, then drops it unanswered. */
  timeout_hold_ms: 30_000,
  notify_queue_max: 10_000,
  notify_attempts_max: 5,
  notify_timeout_ms: 5_000,
  /** Connections kept open to paycore for notifications and pushes (src/sandbox/http-client.ts). */
  notify_sockets_max: 32,
  /** An idle connection to paycore is closed after this: below paycore's keep-alive timeout (Fastify's 72 s) and a Node server's default 5 s. */
  notify_idle_socket_ms: 4_000,
  notify_answer_bytes_max: 64 * 1024,
  /** Messages must be this fresh; their ids are remembered this long to refuse replays. */
  message_window_s: 300,
  seen_messages_max: 200_000,
  message_bytes_max: 64 * 1024,
  xml_depth_max: 8,
  xml_elements_max: 200,
  statement_records_max: 100_000,
  /** The state journal is folded into a snapshot past this size (src/sandbox/persistence.ts). */
  state_journal_bytes_max: 16 * 1024 * 1024,
  /** Journal lines held for one write are written at once past this (src/sandbox/persistence.ts). */
  state_journal_pending_bytes_max: 1024 * 1024,
  /** A fold writes this many rows of the snapshot per turn of the event loop, then yields. */
  snapshot_rows_per_turn: 2_000,
} as const;

export class CapacityError extends Error {
  constructor(what: string) {
    super(`sandbox capacity reached: ${what}`);
    this.name = "CapacityError";
  }
}
