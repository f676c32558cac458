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

class CountingConnection implements DatabaseConnection {
  in_transaction = false;
  constructor(
    readonly inner: DatabaseConnection,
    private readonly totals: StatementCounts,
  ) {}
  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    add(this.totals, 1, !this.in_transaction && WRITES.test(query.sql) ? 1 : 0);
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
  async acquireConnection(): Promise<DatabaseConnection> {
    return new CountingConnection(await this.inner.acquireConnection(), this.totals);
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
