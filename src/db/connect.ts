import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { PGliteDialect } from "./pglite-dialect.ts";
import type { Database } from "./schema.ts";

export type Engine = "pglite" | "postgres";

export interface DatabaseHandle {
  db: Kysely<Database>;
  engine: Engine;
  schema: string;
  close(): Promise<void>;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

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
  pool_size_max?: number;
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

export async function openPGlite(data_dir: string): Promise<PGlite> {
  const parsers = { [INT8_OID]: parseInt8 };
  if (data_dir === "memory") return PGlite.create({ parsers });
  mkdirSync(data_dir, { recursive: true });
  return PGlite.create({ dataDir: `${data_dir}/pglite`, parsers });
}

export async function connect(options: ConnectOptions): Promise<DatabaseHandle> {
  const schema = options.schema ?? "public";
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`bad schema name ${schema}`);
  if (options.database_url) {
    const types = {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8_OID ? parseInt8 : oid === NUMERIC_OID ? (v: string) => v : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
    };
    const pool = new pg.Pool({
      connectionString: options.database_url,
      max: options.pool_size_max ?? 10,
      types,
      ...(schema !== "public" ? { options: `-c search_path="${schema}",public` } : {}),
    });
    if (schema !== "public") await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const size_max = options.pool_size_max ?? 10;
    pool_stats.set(db, () => ({ engine: "postgres", size_max, total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }));
    return { db, engine: "postgres", schema, close: () => db.destroy() };
  }
  const owned = !options.pglite;
  const pglite = options.pglite ?? (await openPGlite(options.data_dir ?? "memory"));
  if (schema !== "public") await pglite.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite, schema }) });
  return {
    db,
    engine: "pglite",
    schema,
    close: async () => {
      await db.destroy();
      if (owned) await pglite.close();
    },
  };
}
