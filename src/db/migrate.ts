import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.ts";

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), "migrations");

/** Advisory lock key held while migrating (and while creating a schema: src/db/connect.ts). */
export const MIGRATION_LOCK = 7291001;

export interface Migration {
  name: string;
  sql: string;
}

/** Plain SQL files `NNNN_name.sql`, applied in name order, once each, on both engines. */
export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((name) => ({ name, sql: readFileSync(join(dir, name), "utf8") }));
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock so two
 * processes starting at once do not both migrate. Returns the names applied.
 */
export async function migrate(db: Kysely<Database>, migrations = loadMigrations()): Promise<string[]> {
  // CREATE … IF NOT EXISTS is not safe against a concurrent CREATE of the same name (both see
  // nothing and one fails on the catalog's unique index), so it runs under the same lock.
  await db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(trx);
    await sql`CREATE TABLE IF NOT EXISTS paycore_migrations (
      name text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`.execute(trx);
  });
  const applied: string[] = [];
  for (const migration of migrations) {
    const done = await db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(trx);
      const existing = await sql<{ name: string }>`SELECT name FROM paycore_migrations WHERE name = ${migration.name}`.execute(trx);
      if (existing.rows.length > 0) return false;
      await sql.raw(migration.sql).execute(trx);
      await sql`INSERT INTO paycore_migrations (name) VALUES (${migration.name})`.execute(trx);
      return true;
    });
    if (done) applied.push(migration.name);
  }
  return applied;
}
