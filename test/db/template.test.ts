import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type DatabaseHandle } from "../../src/db/index.ts";
import { fragmentTemplate, statementTemplate } from "../../src/db/template.ts";
import { sharedPGlite, testDatabaseUrl } from "../support/db.ts";

/** Statements built once and run with new arguments (src/db/template.ts), on both engines. */
describe("statement templates", () => {
  const url = testDatabaseUrl();
  const schema = `tmpl_${randomBytes(5).toString("hex")}`;
  let h: DatabaseHandle;

  beforeAll(async () => {
    h = url ? await connect({ database_url: url, schema, pool_size_max: 2 }) : await connect({ pglite: await sharedPGlite(), schema });
    await sql`CREATE TABLE ${sql.table(`${schema}.t`)} (id int PRIMARY KEY, v text NOT NULL, n int8)`.execute(h.db);
    await sql`INSERT INTO ${sql.table(`${schema}.t`)} VALUES (1, 'one', 10), (2, 'two', NULL), (3, 'three', 30)`.execute(h.db);
  });

  afterAll(async () => {
    await h.db.schema.dropSchema(schema).ifExists().cascade().execute();
    await h.close();
  });

  const t = () => sql.table(`${schema}.t`);
  /** The template refuses when first used: synchronously, from inside whatever awaits it. */
  const later = <T>(f: () => Promise<T>) => Promise.resolve().then(f);

  it("runs the statement it was built as, with each call's arguments, an argument used twice, and constants kept", async () => {
    const read = statementTemplate(2, (db, id: number, v: string) =>
      sql<{ id: number; v: string; n: bigint | null; same: boolean; k: string }>`SELECT id, v, n, v = ${v} AS same, ${"k"}::text AS k FROM ${t()} WHERE id = ${id} OR (v = ${v} AND ${id} > 0) ORDER BY id`,
    );
    for (let i = 0; i < 6; i++) {
      expect((await read.execute(h.db, 1, "two")).rows).toEqual([
        { id: 1, v: "one", n: 10n, same: false, k: "k" },
        { id: 2, v: "two", n: null, same: true, k: "k" },
      ]);
      expect((await read.execute(h.db, 3, "none")).rows).toEqual([{ id: 3, v: "three", n: 30n, same: false, k: "k" }]);
    }
    await h.db.transaction().execute(async (trx) => {
      expect((await read.execute(trx, 2, "x")).rows.map((r) => r.id)).toEqual([2]);
    });
  });

  it("a query builder's template answers what the builder answers", async () => {
    const built = (id: number) => h.db.selectFrom(sql.table(`${schema}.t`).as("t") as never).selectAll().where(sql.ref("id"), "=", id);
    const read = statementTemplate(1, (db, id: number) => db.selectFrom(sql.table(`${schema}.t`).as("t") as never).selectAll().where(sql.ref("id"), "=", id));
    for (const id of [1, 2, 3, 4]) expect((await read.execute(h.db, id)).rows).toEqual(await built(id).execute());
  });

  it("as a part of another statement, its parameters are numbered by the outer statement", async () => {
    const update = statementTemplate(2, (db, id: number, v: string) => sql`UPDATE ${t()} SET v = ${v} WHERE id = ${id} RETURNING id, v`);
    for (let i = 0; i < 4; i++) {
      const r = await sql<{ id: number; v: string; outer: string }>`WITH u AS (${update.fragment(h.db, 3, `three-${i}`)}) SELECT u.id, u.v, ${`o${i}`}::text AS outer FROM u`.execute(h.db);
      expect(r.rows).toEqual([{ id: 3, v: `three-${i}`, outer: `o${i}` }]);
    }
  });

  it("a raw fragment template (no handle needed) is numbered by the statement it is part of", async () => {
    const typed = fragmentTemplate(2, (id: number, v: string) => sql`${id}::int4, ${v}::text`);
    for (let i = 0; i < 3; i++) {
      const r = await sql<{ id: number; v: string; w: string }>`SELECT * FROM (VALUES (${typed(i, `v${i}`)}, ${`w${i}`}::text)) AS x(id, v, w)`.execute(h.db);
      expect(r.rows).toEqual([{ id: i, v: `v${i}`, w: `w${i}` }]);
    }
  });

  it("refuses a builder that does not pass each argument on as a parameter", async () => {
    const unused = statementTemplate(2, (db, id: number, _v: string) => sql`SELECT v FROM ${t()} WHERE id = ${id}`);
    await expect(later(() => unused.execute(h.db, 1, "x"))).rejects.toThrow(/argument 1 is not a parameter/);
    const looked_at = statementTemplate(1, (db, at: Date) => sql`SELECT ${new Date(at.getTime())}::timestamptz AS t`);
    await expect(later(() => looked_at.execute(h.db, new Date()))).rejects.toThrow();
    const object_constant = statementTemplate(1, (db, id: number) => sql`SELECT ${new Date(0)}::timestamptz AS t WHERE ${id} > 0`);
    await expect(later(() => object_constant.execute(h.db, 1))).rejects.toThrow(/neither an argument nor a constant scalar/);
  });
});
