import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type DatabaseHandle } from "../../src/db/index.ts";
import { PREPARE_LIMITS, StatementNames } from "../../src/db/prepared.ts";
import { sharedPGlite, testDatabaseUrl } from "../support/db.ts";

/**
 * Statements sent again and again are prepared once per connection on PostgreSQL
 * (src/db/prepared.ts). PGlite has no such layer; the same calls must give the same answers there.
 */
describe("prepared statements", () => {
  const url = testDatabaseUrl();
  const schema = `prep_${randomBytes(5).toString("hex")}`;
  let h: DatabaseHandle;

  beforeAll(async () => {
    // One connection, so that what the server prepared is visible on the next statement.
    h = url ? await connect({ database_url: url, schema, pool_size_max: 1 }) : await connect({ pglite: await sharedPGlite(), schema });
    await sql`CREATE TABLE ${sql.table(`${schema}.t`)} (id int PRIMARY KEY, v text NOT NULL)`.execute(h.db);
    await sql`INSERT INTO ${sql.table(`${schema}.t`)} VALUES (1, 'one'), (2, 'two')`.execute(h.db);
  });

  afterAll(async () => {
    await h.db.schema.dropSchema(schema).ifExists().cascade().execute();
    await h.close();
  });

  const byId = (id: number) => sql<Record<string, unknown>>`SELECT * FROM ${sql.table(`${schema}.t`)} WHERE id = ${id}`.execute(h.db);
  const prepared = async () =>
    url ? (await sql<{ statement: string }>`SELECT statement FROM pg_prepared_statements`.execute(h.db)).rows.map((r) => r.statement) : [];

  it("a statement seen repeatedly is prepared and answers as before", async () => {
    for (let i = 0; i < PREPARE_LIMITS.seen_before_naming + 2; i++) expect((await byId(1 + (i % 2))).rows).toEqual([{ id: 1 + (i % 2), v: i % 2 ? "two" : "one" }]);
    if (url) expect((await prepared()).some((s) => s.includes(`"${schema}"."t"`) && s.includes("WHERE id = $1"))).toBe(true);
  });

  it("a table changed under a prepared SELECT * is prepared again, outside a transaction without an error", async () => {
    for (let i = 0; i < PREPARE_LIMITS.seen_before_naming + 1; i++) await byId(1);
    await sql`ALTER TABLE ${sql.table(`${schema}.t`)} ADD COLUMN w int NOT NULL DEFAULT 7`.execute(h.db);
    expect((await byId(1)).rows).toEqual([{ id: 1, v: "one", w: 7 }]);
    expect((await byId(2)).rows).toEqual([{ id: 2, v: "two", w: 7 }]);
  });

  it("inside a transaction the changed plan fails that transaction once; the retry succeeds", async () => {
    for (let i = 0; i < PREPARE_LIMITS.seen_before_naming + 1; i++) await byId(2);
    await sql`ALTER TABLE ${sql.table(`${schema}.t`)} ADD COLUMN x int NOT NULL DEFAULT 8`.execute(h.db);
    const attempt = () => h.db.transaction().execute(async (tx) => (await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(`${schema}.t`)} WHERE id = ${2}`.execute(tx)).rows);
    const first = await attempt().catch((err: Error) => err);
    if (url) expect((first as Error).message).toMatch(/cached plan must not change result type/);
    expect(await attempt()).toEqual([{ id: 2, v: "two", w: 7, x: 8 }]);
  });

  it("a Date parameter keeps its instant to the millisecond, prepared or not", async () => {
    const dates = [new Date("2026-12-02T15:59:59.999Z"), new Date("1999-12-31T16:00:00.001Z"), new Date(Date.UTC(2026, 5, 30, 23, 59, 59, 1))];
    for (let i = 0; i < PREPARE_LIMITS.seen_before_naming + 1; i++) {
      for (const d of dates) {
        const r = await sql<{ t: Date; same: boolean }>`SELECT ${d}::timestamptz AS t, ${d}::timestamptz = ${d.toISOString()}::timestamptz AS same`.execute(h.db);
        expect(r.rows[0]!.t.getTime()).toBe(d.getTime());
        expect(r.rows[0]!.same).toBe(true);
      }
    }
  });

  it("a prepared statement run again on its connection parses its rows as the first run did: types, nulls, no row, after an error", async () => {
    // From the second run on a connection, its row description is not asked for again (prepared.ts, NamedQuery).
    const typed = (id: number, n: bigint | null, at: Date, divisor: number) =>
      sql<{ id: number; v: string; n: bigint | null; at: Date; q: number }>`SELECT id, v, ${n}::int8 AS n, ${at}::timestamptz AS at, 10 / ${divisor}::int4 AS q FROM ${sql.table(`${schema}.t`)} WHERE id = ${id}`.execute(h.db);
    const at = new Date("2026-12-02T16:20:00.123Z");
    for (let i = 0; i < PREPARE_LIMITS.seen_before_naming + 3; i++) {
      const n = i % 2 ? null : 9_007_199_254_740_993n;
      expect((await typed(1 + (i % 2), n, at, 5)).rows).toEqual([{ id: 1 + (i % 2), v: i % 2 ? "two" : "one", n, at, q: 2 }]);
      expect((await typed(3, n, at, 5)).rows).toEqual([]);
    }
    await expect(typed(1, 1n, at, 0)).rejects.toThrow(/division by zero/);
    expect((await typed(2, 5n, at, 2)).rows).toEqual([{ id: 2, v: "two", n: 5n, at, q: 5 }]);
  });

  it("names are bounded: one-off texts are never named, and no more than the limit", () => {
    const names = new StatementNames();
    for (let i = 0; i < PREPARE_LIMITS.counted_max * 2; i++) expect(names.nameOf(`SELECT ${i} WHERE $1`)).toBeNull();
    expect(names.size).toBe(0);
    for (let i = 0; i < PREPARE_LIMITS.statements_max + 10; i++) for (let k = 0; k < PREPARE_LIMITS.seen_before_naming; k++) names.nameOf(`SELECT ${i} + $1`);
    expect(names.size).toBe(PREPARE_LIMITS.statements_max);
    expect(names.nameOf("x".repeat(PREPARE_LIMITS.text_max + 1))).toBeNull();
  });
});
