import { randomBytes } from "node:crypto";
import type { PGlite } from "@electric-sql/pglite";
import { connect, migrate, openPGlite, type DatabaseHandle } from "../../src/db/index.ts";

/**
 * The database for a test suite: a fresh schema of its own, migrated, on the engine the run
 * uses. `DATABASE_URL=postgres://…` selects PostgreSQL; otherwise one embedded PGlite instance
 * is shared by every suite of the run (it takes seconds to start).
 */
const holder = globalThis as unknown as { __paycore_test_pglite?: Promise<PGlite> };

export function testDatabaseUrl(): string | undefined {
  const url = process.env.DATABASE_URL;
  return url && url.startsWith("postgres") ? url : undefined;
}

export async function sharedPGlite(): Promise<PGlite> {
  holder.__paycore_test_pglite ??= openPGlite("memory");
  return holder.__paycore_test_pglite;
}

/** A schema of its own on the run's database; `database_url` puts it on that PostgreSQL server instead. */
export async function createTestDatabase(label = "t", database_url?: string): Promise<DatabaseHandle & { drop(): Promise<void> }> {
  const schema = `${label.replace(/[^a-z0-9_]/g, "_").slice(0, 20)}_${randomBytes(5).toString("hex")}`;
  const url = database_url ?? testDatabaseUrl();
  const handle = url ? await connect({ database_url: url, schema, pool_size_max: 5 }) : await connect({ pglite: await sharedPGlite(), schema });
  await migrate(handle.db);
  return {
    ...handle,
    async drop() {
      await handle.db.schema.dropSchema(schema).ifExists().cascade().execute();
      await handle.close();
    },
  };
}
