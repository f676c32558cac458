import { PGlite } from "@electric-sql/pglite";
import { acquireDirLock, type DirLock } from "../kernel/dir-lock.ts";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { PGliteDialect } from "./pglite-dialect.ts";
import { MIGRATION_LOCK } from "./migrate.ts";
import { preparingPool, StatementNames } from "./prepared.ts";
import { ensurePrivateDir, PrivateNodeFS, restrictTree } from "./private-files.ts";
import type { Database } from "./schema.ts";
import { countingDialect, type StatementCounts } from "./stats.ts";
import { parseTimestamptz } from "./timestamptz.ts";

export type Engine = "pglite" | "postgres";

export interface DatabaseHandle {
  db: Kysely<Database>;
  engine: Engine;
  schema: string;
  /** Statements and commits sent through this handle since it opened (src/db/stats.ts). */
  counts: StatementCounts;
  /** The exclusive lock on the PGlite data directory this process holds (file-backed PGlite only). */
  lock: DirLock | null;
  close(): Promise<void>;
}

/**
 * PGlite is one process's database: a second process opening the same directory would work on its
 * own copy and split the data. Whoever opens it holds `<data_dir>/paycore.lock`; the server writes
 * where it listens into it, so the CLI can ask the server instead (src/cli/server-link.ts).
 */
export const DATA_DIR_LOCK = "paycore.lock";

const INT8_OID = 20;
const NUMERIC_OID = 1700;
const TIMESTAMPTZ_OID = 1184;

/** int8 comes back as `bigint` on both engines: every money column and every count. */
const parseInt8 = (value: string): bigint => BigInt(value);

export interface ConnectOptions {
  /** `postgres://…` for PostgreSQL; otherwise the embedded database. */
  database_url?: string | undefined;
  /** Directory for PGlite files, or `memory`. */
  data_dir?: string;
  /** Schema to use (created if missing); default `public`. */
  schema?: string;
  /** An already running PGlite to share (tests). */
  pglite?: PGlite;
  /** PostgreSQL: connections the pool may open (`PAYCORE_PG_POOL_MAX`); default `POOL_SIZE.default`. */
  pool_size_max?: number;
  /** PostgreSQL: name the statements sent repeatedly (src/db/prepared.ts); default true. */
  prepare?: boolean;
  /** Told about errors of idle pooled connections (a restarting server); without it they are dropped. */
  on_pool_error?: (err: Error) => void;
}

/** Connections of a database's pool, for metrics: in use, idle, and callers waiting for one. */
export interface PoolStats {
  engine: Engine;
  size_max: number;
  total: number;
  idle: number;
  waiting: number;
}

const pool_stats = new WeakMap<object, () => PoolStats>();

/** The pool behind a Kysely instance made by `connect` (PGlite: one connection, no pool to see). */
export function poolStats(db: Kysely<Database>): PoolStats | null {
  return pool_stats.get(db)?.() ?? null;
}

/**
 * Connections one process's pool may open (`PAYCORE_PG_POOL_MAX`, checked against these bounds at
 * start). With several processes on one PostgreSQL, their sum must stay under the server's
 * `max_connections` (docs/scaling.md "Connections").
 */
export const POOL_SIZE = { min: 2, default: 10, max: 1_000 } as const;

/**
 * Bounds on waiting for PostgreSQL. A request never waits longer than `connect_timeout_ms` for a
 * connection while the server is down (it answers 503 instead), and a session left idle inside a
 * transaction (a crashed caller) is ended by the server.
 */
export const POOL_LIMITS = { connect_timeout_ms: 5_000, idle_timeout_ms: 30_000, idle_in_transaction_timeout_ms: 60_000 } as const;

/**
 * Opens the embedded database in `<data_dir>/pglite`. The data directory and everything PGlite keeps
 * in it are owner-only (0700 directories, 0600 files; src/db/private-files.ts): the directory also
 * holds the master key and the lock file with the control token.
 */
export async function openPGlite(data_dir: string): Promise<PGlite> {
  const parsers = { [INT8_OID]: parseInt8 };
  if (data_dir === "memory") return PGlite.create({ parsers });
  const pglite_dir = `${data_dir}/pglite`;
  ensurePrivateDir(data_dir);
  ensurePrivateDir(pglite_dir);
  restrictTree(pglite_dir); // files left by a version that did not restrict them
  return PGlite.create({ dataDir: pglite_dir, fs: new PrivateNodeFS(pglite_dir), parsers });
}

export async function connect(options: ConnectOptions): Promise<DatabaseHandle> {
  const schema = options.schema ?? "public";
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`bad schema name ${schema}`);
  if (options.database_url) {
    const types = {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8_OID ? parseInt8 : oid === NUMERIC_OID ? (v: string) => v : oid === TIMESTAMPTZ_OID && format !== "binary" ? parseTimestamptz : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
    };
    const server_options = [`-c idle_in_transaction_session_timeout=${POOL_LIMITS.idle_in_transaction_timeout_ms}`];
    if (schema !== "public") server_options.push(`-c search_path="${schema}",public`);
    const size_max = options.pool_size_max ?? POOL_SIZE.default;
    const pool = new pg.Pool({
      connectionString: options.database_url,
      max: size_max,
      // Names paycore's sessions in pg_stat_activity (unless the URL names them otherwise).
      application_name: "paycore",
      types,
      connectionTimeoutMillis: POOL_LIMITS.connect_timeout_ms,
      idleTimeoutMillis: POOL_LIMITS.idle_timeout_ms,
      keepAlive: true,
      options: server_options.join(" "),
    });
    // An idle connection that the server closes (restart, failover) emits 'error' on the pool;
    // unhandled, that event would end the process. The pool drops the connection and makes a new
    // one on the next query.
    pool.on("error", (err) => options.on_pool_error?.(err));
    // A connection checked out between two statements (inside a transaction) that the server
    // ends emits 'error' on the client itself, where the pool does not listen. The next
    // statement on it fails with a connection error (503 at the edge) and the pool replaces it.
    pool.on("connect", (client) => client.on("error", (err) => options.on_pool_error?.(err)));
    // Two processes starting at once on a new schema: one simple query is one implicit
    // transaction, so the lock is held until the schema exists (see src/db/migrate.ts).
    if (schema !== "public") await pool.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK}); CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    const counts = { statements: 0, commits: 0 };
    const db = new Kysely<Database>({ dialect: countingDialect(new PostgresDialect({ pool: preparingPool(pool, options.prepare === false ? null : new StatementNames()) }), counts) });
    pool_stats.set(db, () => ({ engine: "postgres", size_max, total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }));
    return { db, engine: "postgres", schema, counts, lock: null, close: () => db.destroy() };
  }
  const owned = !options.pglite;
  const data_dir = options.data_dir ?? "memory";
  // Throws DirectoryLockedError (naming the holder) when another process has the directory.
  const lock = owned && data_dir !== "memory" ? acquireDirLock(data_dir, DATA_DIR_LOCK) : null;
  let pglite: PGlite;
  try {
    pglite = options.pglite ?? (await openPGlite(data_dir));
  } catch (err) {
    lock?.release();
    throw err;
  }
  if (schema !== "public") await pglite.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  const counts = { statements: 0, commits: 0 };
  const db = new Kysely<Database>({ dialect: countingDialect(new PGliteDialect({ pglite, schema }), counts) });
  return {
    db,
    engine: "pglite",
    schema,
    counts,
    lock,
    close: async () => {
      await db.destroy();
      if (owned) await pglite.close();
      lock?.release();
    },
  };
}
