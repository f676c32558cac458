import { AsyncLocalStorage } from "node:async_hooks";
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings } from "kysely";

/**
 * Counts SQL statements and commits at the driver: every round trip to the database (BEGIN and
 * COMMIT included), whatever built it. The totals are per database handle; `countStatements` also
 * attributes the statements one piece of work causes, across its awaits (AsyncLocalStorage), so a
 * test or a benchmark can state "this payment took 9 statements and 2 commits" on either engine.
 * It measures round trips, never time. A commit is an explicit COMMIT or a writing statement run
 * outside a transaction (it commits by itself).
 */
export interface StatementCounts {
  statements: number;
  commits: number;
  /** Caches whose version this piece of work has confirmed (src/db/config-cache.ts). */
  confirmed?: WeakSet<object>;
}

const scope = new AsyncLocalStorage<StatementCounts>();

function add(totals: StatementCounts, statements: number, commits: number): void {
  totals.statements += statements;
  totals.commits += commits;
  const current = scope.getStore();
  if (current) {
    current.statements += statements;
    current.commits += commits;
  }
}

/** The counts of the piece of work running now (an HTTP request), if any. */
export function currentWork(): StatementCounts | undefined {
  return scope.getStore();
}

/** Runs `fn` with `counts` collecting what it causes (a server hook: one HTTP request). */
export function runCounted<T>(counts: StatementCounts, fn: () => T): T {
  return scope.run(counts, fn);
}

/** Runs `fn` and answers the statements and commits it caused (on every handle). */
export async function countStatements<T>(fn: () => Promise<T>): Promise<StatementCounts & { result: T }> {
  const counts: StatementCounts = { statements: 0, commits: 0 };
  const result = await scope.run(counts, fn);
  return { ...counts, result };
}

const WRITES = /^\s*(insert|update|delete|merge)\b|^\s*with\b[\s\S]*\b(insert|update|delete)\b/i;

/**
 * Whether a statement outside a transaction writes (and so commits by itself), by its text. The
 * payment's statements are a few texts of several KB each, and a `WITH` one was scanned to its end
 * on every execution; the answer is kept per text (bounded: a full map starts again).
 */
const writes_by_text = new Map<string, boolean>();
const WRITES_BY_TEXT_MAX = 2_000;

function writes(sql: string): boolean {
  let known = writes_by_text.get(sql);
  if (known === undefined) {
    known = WRITES.test(sql);
    if (writes_by_text.size >= WRITES_BY_TEXT_MAX) writes_by_text.clear();
    writes_by_text.set(sql, known);
  }
  return known;
}

class CountingConnection implements DatabaseConnection {
  in_transaction = false;
  constructor(
    readonly inner: DatabaseConnection,
    private readonly totals: StatementCounts,
  ) {}
  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    add(this.totals, 1, !this.in_transaction && writes(query.sql) ? 1 : 0);
    return this.inner.executeQuery<R>(query);
  }
  streamQuery<R>(query: CompiledQuery, chunk_size?: number): AsyncIterableIterator<QueryResult<R>> {
    add(this.totals, 1, 0);
    return this.inner.streamQuery<R>(query, chunk_size);
  }
}

const innerOf = (connection: DatabaseConnection) => (connection as CountingConnection).inner;

class CountingDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly totals: StatementCounts,
  ) {}
  init(): Promise<void> {
    return this.inner.init();
  }
  /** One counting wrapper per pooled connection, not one per statement (its flag is cleared on release). */
  private readonly wrappers = new WeakMap<DatabaseConnection, CountingConnection>();

  acquireConnection(): Promise<DatabaseConnection> {
    return this.inner.acquireConnection().then((inner) => {
      let wrapper = this.wrappers.get(inner);
      if (!wrapper) {
        wrapper = new CountingConnection(inner, this.totals);
        this.wrappers.set(inner, wrapper);
      }
      return wrapper;
    });
  }
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    add(this.totals, 1, 0);
    (connection as CountingConnection).in_transaction = true;
    return this.inner.beginTransaction(innerOf(connection), settings);
  }
  commitTransaction(connection: DatabaseConnection): Promise<void> {
    add(this.totals, 1, 1);
    (connection as CountingConnection).in_transaction = false;
    return this.inner.commitTransaction(innerOf(connection));
  }
  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    add(this.totals, 1, 0);
    (connection as CountingConnection).in_transaction = false;
    return this.inner.rollbackTransaction(innerOf(connection));
  }
  releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as CountingConnection).in_transaction = false;
    return this.inner.releaseConnection(innerOf(connection));
  }
  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** The dialect with its driver counted into `totals`. */
export function countingDialect(dialect: Dialect, totals: StatementCounts): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new CountingDriver(dialect.createDriver(), totals),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
  };
}
