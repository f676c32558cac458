import type { PGlite } from "@electric-sql/pglite";
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from "kysely";

/**
 * A Kysely dialect over one embedded PGlite instance. PGlite is a single connection, so a
 * connection is a turn on a FIFO lock shared by everyone using the instance: a transaction holds
 * it from BEGIN to COMMIT and no other query can slip in between. Several Kysely instances may
 * share one PGlite, each with its own `search_path` (tests use a schema per suite).
 */
export class PGliteDialect implements Dialect {
  constructor(private readonly options: { pglite: PGlite; schema?: string }) {}

  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.options.pglite, this.options.schema);
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
}

interface SharedState {
  tail: Promise<void>;
  search_path: string | undefined;
}
const shared = new WeakMap<PGlite, SharedState>();

function stateOf(pglite: PGlite): SharedState {
  let state = shared.get(pglite);
  if (!state) {
    state = { tail: Promise.resolve(), search_path: undefined };
    shared.set(pglite, state);
  }
  return state;
}

class PGliteDriver implements Driver {
  private readonly releases = new WeakMap<DatabaseConnection, () => void>();

  constructor(
    private readonly pglite: PGlite,
    private readonly schema: string | undefined,
  ) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const state = stateOf(this.pglite);
    let release!: () => void;
    const turn = new Promise<void>((resolve) => (release = resolve));
    const previous = state.tail;
    state.tail = previous.then(() => turn);
    await previous;
    const wanted = this.schema ? `"${this.schema}", public` : "public";
    if (state.search_path !== wanted) {
      await this.pglite.query(`SET search_path TO ${wanted}`);
      state.search_path = wanted;
    }
    const connection = new PGliteConnection(this.pglite);
    this.releases.set(connection, release);
    return connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const level = settings.isolationLevel ? ` ISOLATION LEVEL ${settings.isolationLevel.toUpperCase()}` : "";
    await connection.executeQuery(CompiledQuery.raw(`BEGIN${level}`));
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("COMMIT"));
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("ROLLBACK"));
  }
  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    this.releases.get(connection)?.();
    this.releases.delete(connection);
  }
  async destroy(): Promise<void> {
    // The PGlite instance belongs to whoever created it; it is closed there.
  }
}

class PGliteConnection implements DatabaseConnection {
  constructor(private readonly pglite: PGlite) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    // Without parameters the simple protocol runs, which also takes several statements
    // (migrations); with parameters the extended protocol binds them.
    const result =
      compiled.parameters.length === 0
        ? ((await this.pglite.exec(compiled.sql)).at(-1) ?? { rows: [], fields: [] })
        : await this.pglite.query<R>(compiled.sql, [...compiled.parameters]);
    const command = result.command?.toUpperCase();
    const changed = command === "INSERT" || command === "UPDATE" || command === "DELETE" || command === "MERGE";
    return {
      rows: result.rows as R[],
      ...(changed ? { numAffectedRows: BigInt(result.affectedRows ?? 0) } : {}),
    };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("streaming is not supported on the embedded database");
  }
}
