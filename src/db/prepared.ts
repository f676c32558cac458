import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from "kysely";
import type pg from "pg";

/**
 * Named prepared statements for the statements a process sends again and again (PostgreSQL only).
 *
 * Kysely sends every statement unnamed, so the server parses, analyses and plans it on every call:
 * for the payment path that was about a quarter of PostgreSQL's CPU per payment (planning alone
 * 1.2 ms of 4.8, pg_stat_statements with track_planning). A statement whose text has been seen
 * `PREPARE_LIMITS.seen_before_naming` times gets a name; each connection then parses it once, and
 * the server may keep a generic plan for it (plan_cache_mode decides, per statement).
 *
 * Bounded: at most `statements_max` names per process (a server keeps each one per connection
 * until the connection closes), texts longer than `text_max` are never named, and the texts merely
 * counted are forgotten in bulk when there are too many of them (one-off texts such as a batch's
 * VALUES list never crowd out the hot ones). Only statements with parameters are named: they use
 * the extended protocol anyway, while a parameterless text may hold several statements.
 *
 * A table changed under a prepared `SELECT *` fails once with "cached plan must not change result
 * type" (0A000) on each connection that prepared it. The text then gets a new name, so every
 * connection parses it again; outside a transaction the statement is retried at once under the
 * new name, inside one the error reaches the caller (its transaction is already aborted) and the
 * caller's retry finds the new name. A connection pooler in transaction mode that does not track
 * prepared statements needs `PAYCORE_PG_PREPARE=off` (docs/scaling.md).
 */
export const PREPARE_LIMITS = { seen_before_naming: 3, statements_max: 500, text_max: 16_384, counted_max: 5_000 } as const;

const PLAN_CHANGED = "0A000";

export class StatementNames {
  private readonly seen = new Map<string, number>();
  private readonly names = new Map<string, string>();
  private next = 0;

  /** The name to prepare `text` under, or null to send it unnamed. */
  nameOf(text: string): string | null {
    const named = this.names.get(text);
    if (named !== undefined) return named;
    if (text.length > PREPARE_LIMITS.text_max || this.names.size >= PREPARE_LIMITS.statements_max) return null;
    const count = (this.seen.get(text) ?? 0) + 1;
    if (count < PREPARE_LIMITS.seen_before_naming) {
      if (this.seen.size >= PREPARE_LIMITS.counted_max) this.seen.clear();
      this.seen.set(text, count);
      return null;
    }
    this.seen.delete(text);
    return this.rename(text);
  }

  /** A new name for `text`: the old one's plan no longer fits the tables. */
  rename(text: string): string {
    const name = `paycore_${(this.next++).toString(36)}`;
    this.names.set(text, name);
    return name;
  }

  get size(): number {
    return this.names.size;
  }
}

const BEGINS = /^\s*(begin|start\s+transaction)\b/i;
const ENDS = /^\s*(commit|rollback|end|abort)\b/i;

/**
 * Dates as ISO 8601 UTC text: pg's own conversion formats each Date field by field in local time
 * (1.6 % of paycore's busy time in the payments benchmark, five or more dates a payment). Every
 * time column is timestamptz (dates are text), so the instant is the same.
 */
function withIsoDates(parameters: ReadonlyArray<unknown>): unknown[] {
  const values = parameters as unknown[];
  for (let i = 0; i < values.length; i++) {
    if (values[i] instanceof Date) return values.map((v) => (v instanceof Date ? v.toISOString() : v));
  }
  return values;
}

class PreparingClient implements PostgresPoolClient {
  private in_transaction = false;
  constructor(
    private readonly inner: pg.PoolClient,
    private readonly names: StatementNames | null,
  ) {}

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(text: string | PostgresCursor<R>, parameters?: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    const client = this.inner as unknown as { query(q: unknown, v?: unknown): Promise<PostgresQueryResult<R>> };
    if (typeof text !== "string") return (this.inner as unknown as PostgresPoolClient).query(text);
    if (BEGINS.test(text)) this.in_transaction = true;
    else if (ENDS.test(text)) this.in_transaction = false;
    const values = parameters ? withIsoDates(parameters) : parameters;
    const names = this.names;
    const name = names && values && values.length > 0 ? names.nameOf(text) : null;
    if (name === null || names === null) return client.query(text, values);
    return client.query({ name, text, values }).catch((err: { code?: string; message?: string }) => {
      if (err?.code !== PLAN_CHANGED || !/cached plan must not change result type/.test(err.message ?? "")) throw err;
      const renamed = names.nameOf(text) === name ? names.rename(text) : names.nameOf(text)!;
      if (this.in_transaction) throw err;
      return client.query({ name: renamed, text, values });
    });
  }

  release(): void {
    this.inner.release();
  }
}

/** `pool` for Kysely's PostgresDialect, naming the statements it sees repeatedly unless `names` is null. */
export function preparingPool(pool: pg.Pool, names: StatementNames | null = new StatementNames()): PostgresPool {
  return {
    connect: async () => new PreparingClient(await pool.connect(), names),
    end: () => pool.end(),
  };
}
