import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from "kysely";
import { createRequire } from "node:module";
import pg from "pg";

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

/** A named statement's row description on one connection: what its rows are parsed with. */
interface Described {
  fields: unknown[];
  parsers: unknown[];
  /** Every column as null, in a plain object (pg copies it per row and fills it). */
  empty: Record<string, null>;
}

/** pg's Query as paycore's subclass uses it (pg/lib/query.js; the fields are pg's own). */
interface PgQueryInternals {
  name: string;
  text: string;
  values: unknown[];
  binary: boolean | undefined;
  portal: string;
  rows: number | undefined;
  callback: ((err: Error | null, result?: unknown) => void) | undefined;
  _accumulateRows: boolean;
  _result: { fields: unknown[]; _parsers: unknown[]; _prebuiltEmptyResultObject: Record<string, null> | null; _types: { getTypeParser(oid: number, format: string): unknown } };
  handleRowDescription(msg: { fields: { name: string; dataTypeID: number; format?: string }[] }): void;
  hasBeenParsed(connection: unknown): boolean;
  handleError(err: unknown, connection: unknown): void;
  prepare(connection: PgConnection): void;
  _getRows(connection: PgConnection, rows: number | undefined): void;
}

interface PgConnection {
  bind(config: { portal: string; statement: string; values: unknown[]; binary: boolean | undefined; valueMapper: unknown }): void;
  close(config: { type: "S"; name: string }): void;
  sync(): void;
}

const pgUtils = createRequire(import.meta.url)("pg/lib/utils.js") as { prepareValue: unknown };

/**
 * A named statement whose rows' shape this connection already knows. pg describes the portal on
 * every execution, and the answer's row description (31 columns for a payment) is parsed into
 * field objects and a row template every time (pg's `addFields`, 2 % of paycore's busy time in
 * the payments benchmark). Once a connection has described a named statement, its result type
 * cannot change on that connection without the server refusing the execution ("cached plan must
 * not change result type", which renames the statement: above), so the description is kept per
 * connection and name, and later executions send no Describe: Bind, Execute, Sync.
 */
class NamedQuery extends (pg.Query as unknown as new (text: string, values: unknown[]) => PgQueryInternals) {
  constructor(
    name: string,
    text: string,
    values: unknown[],
    private readonly described: Map<string, Described>,
  ) {
    // Text and values, not a config object: pg copies a config object property by property.
    super(text, values);
    this.name = name;
  }

  override prepare(connection: PgConnection): void {
    const known = this.described.get(this.name);
    if (!known || !this.hasBeenParsed(connection) || this.rows !== undefined) return super.prepare(connection);
    const result = this._result;
    result.fields = known.fields;
    result._parsers = known.parsers;
    result._prebuiltEmptyResultObject = known.empty;
    this._accumulateRows = true;
    try {
      connection.bind({ portal: this.portal, statement: this.name, values: this.values, binary: this.binary, valueMapper: pgUtils.prepareValue });
    } catch (err) {
      // As pg does: close the statement and sync, so that the connection stays usable.
      connection.close({ type: "S", name: this.name });
      connection.sync();
      this.handleError(err, connection);
      return;
    }
    this._getRows(connection, this.rows);
  }

  override handleRowDescription(msg: { fields: { name: string; dataTypeID: number; format?: string }[] }): void {
    super.handleRowDescription(msg);
    const result = this._result;
    this.described.set(this.name, { fields: result.fields, parsers: result._parsers, empty: result._prebuiltEmptyResultObject! });
  }
}

/** Per pg connection: the named statements it has described (bounded by the names: statements_max). */
const descriptions = new WeakMap<object, Map<string, Described>>();

function describedOn(client: object): Map<string, Described> {
  let map = descriptions.get(client);
  if (!map) {
    map = new Map();
    descriptions.set(client, map);
  }
  return map;
}

function runNamed<R>(client: pg.PoolClient, name: string, text: string, values: unknown[]): Promise<PostgresQueryResult<R>> {
  return new Promise((resolve, reject) => {
    const query = new NamedQuery(name, text, values, describedOn(client));
    query.callback = (err, result) => (err ? reject(err) : resolve(result as PostgresQueryResult<R>));
    void client.query(query as unknown as pg.Submittable);
  });
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
    return runNamed<R>(this.inner, name, text, values as unknown[]).catch((err: { code?: string; message?: string }) => {
      if (err?.code !== PLAN_CHANGED || !/cached plan must not change result type/.test(err.message ?? "")) throw err;
      const renamed = names.nameOf(text) === name ? names.rename(text) : names.nameOf(text)!;
      if (this.in_transaction) throw err;
      return runNamed<R>(this.inner, renamed, text, values as unknown[]);
    });
  }

  release(): void {
    this.inner.release();
  }
}

/** `pool` for Kysely's PostgresDialect, naming the statements it sees repeatedly unless `names` is null. */
export function preparingPool(pool: pg.Pool, names: StatementNames | null = new StatementNames()): PostgresPool {
  // One wrapper per pooled connection: Kysely keeps its own connection object per client it is
  // handed, so a new wrapper per checkout made it build a new one for every statement.
  const wrappers = new WeakMap<pg.PoolClient, PreparingClient>();
  return {
    connect: async () => {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (!wrapper) {
        wrapper = new PreparingClient(client, names);
        wrappers.set(client, wrapper);
      }
      return wrapper;
    },
    end: () => pool.end(),
  };
}
