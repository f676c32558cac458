import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../../test/support/db.ts";

describe("database layer", () => {
  let h: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    h = await createTestDatabase("db");
  });
  afterAll(async () => h.drop());

  it("returns int8 money columns as bigint, also for small values", async () => {
    const r = await sql<{ small: bigint; big: bigint; n: bigint }>`SELECT 5::bigint AS small, 9007199254740993::bigint AS big, count(*) AS n FROM entities`.execute(h.db);
    expect(r.rows[0]).toEqual({ small: 5n, big: 9007199254740993n, n: 0n });
  });

  it("binds bigint parameters exactly", async () => {
    const r = await sql<{ v: bigint }>`SELECT ${9007199254740993n}::bigint + 1 AS v`.execute(h.db);
    expect(r.rows[0]!.v).toBe(9007199254740994n);
  });

  it("rolls back a failed transaction completely", async () => {
    const now = new Date();
    await expect(
      h.db.transaction().execute(async (trx) => {
        await trx.insertInto("entities").values({ entity_id: "ent_x", legal_name: "x", uscc: "u1", payment_account_no: "p1", created_at: now, updated_at: now }).execute();
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const rows = await h.db.selectFrom("entities").selectAll().execute();
    expect(rows).toHaveLength(0);
  });

  it("applies migrations once", async () => {
    const { migrate } = await import("../db/index.ts");
    expect(await migrate(h.db)).toEqual([]);
  });
});
