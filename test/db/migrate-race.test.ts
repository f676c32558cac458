import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { connect, loadMigrations, migrate, type DatabaseHandle } from "../../src/db/index.ts";
import { sharedPGlite, testDatabaseUrl } from "../support/db.ts";

/**
 * Two paycore processes started at once on an empty database both connect, create the schema and
 * migrate. CREATE … IF NOT EXISTS alone is not safe against that (both see nothing; one fails on
 * the catalog's unique index), so schema creation and every migration run under one advisory lock.
 */
describe("migrations started by several processes at once", () => {
  const handles: DatabaseHandle[] = [];
  const schema = `mrace_${randomBytes(5).toString("hex")}`;

  afterAll(async () => {
    if (handles[0]) await handles[0].db.schema.dropSchema(schema).ifExists().cascade().execute();
    for (const h of handles) await h.close();
  });

  it("four connections create one schema and apply every migration exactly once", async () => {
    const url = testDatabaseUrl();
    const open = () => connect({ database_url: url, schema, pool_size_max: 2 });
    // PGlite is one connection in one process: the race can only happen on PostgreSQL, but the
    // same calls must still succeed there.
    const opened = url
      ? await Promise.all([open(), open(), open(), open()])
      : [await connect({ pglite: await sharedPGlite(), schema }), await connect({ pglite: await sharedPGlite(), schema })];
    handles.push(...opened);
    const applied = await Promise.all(opened.map((h) => migrate(h.db)));
    const all = loadMigrations().map((m) => m.name);
    // Every migration applied by exactly one of them.
    expect(applied.flat().sort()).toEqual([...all].sort());
    const rows = await sql<{ name: string }>`SELECT name FROM paycore_migrations ORDER BY name`.execute(opened[0]!.db);
    expect(rows.rows.map((r) => r.name)).toEqual([...all].sort());
  });
});
