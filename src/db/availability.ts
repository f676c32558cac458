/**
 * Telling "the database is not there" apart from every other failure.
 *
 * When PostgreSQL restarts or stops, queries fail with connection errors (the socket refused or
 * reset, the server shutting down, the pool's connect timeout). That is an operating condition,
 * not a bug: the API answers 503 `service_unavailable` and the caller retries; work already
 * committed (a payment's intent) is finished later by the sweeper. Anything else stays a 500.
 */

/** SQLSTATE classes and codes that mean the server or the connection went away. */
const UNAVAILABLE_SQLSTATE_PREFIXES = ["08"] as const; // connection_exception
const UNAVAILABLE_SQLSTATES = new Set([
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down, recovery)
  "53300", // too_many_connections
]);
const UNAVAILABLE_NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);
const UNAVAILABLE_MESSAGES = [
  "Connection terminated",
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error and is not queryable",
  "Connection ended unexpectedly",
  "the database system is",
  "terminating connection due to administrator command",
  "Cannot use a pool after calling end on the pool",
] as const;

/** Bounded walk of `cause` chains (driver errors wrap each other). */
const CAUSE_DEPTH_MAX = 5;

export function isDatabaseUnavailable(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < CAUSE_DEPTH_MAX && current && typeof current === "object"; depth++) {
    const e = current as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    if (typeof e.code === "string") {
      if (UNAVAILABLE_NODE_CODES.has(e.code) || UNAVAILABLE_SQLSTATES.has(e.code)) return true;
      if (/^[0-9A-Z]{5}$/.test(e.code) && UNAVAILABLE_SQLSTATE_PREFIXES.some((p) => e.code!.toString().startsWith(p))) return true;
    }
    if (typeof e.message === "string" && UNAVAILABLE_MESSAGES.some((m) => (e.message as string).includes(m))) return true;
    // AggregateError (e.g. connect to several addresses of localhost) carries the real causes.
    if (Array.isArray(e.errors) && e.errors.some((inner) => isDatabaseUnavailable(inner))) return true;
    current = e.cause;
  }
  return false;
}
