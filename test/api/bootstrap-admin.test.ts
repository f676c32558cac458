import { afterAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.ts";
import { ensureBootstrapAdmin } from "../../src/operators/index.ts";
import { createTestDatabase } from "../support/db.ts";

type TestDb = Awaited<ReturnType<typeof createTestDatabase>>;

/**
 * Several paycore processes starting at once on an empty database (docs/scaling.md) each make
 * sure the first admin exists; on PostgreSQL these calls run on separate connections, as the
 * processes' would. Before the advisory lock, the configured token was inserted twice and the
 * loser died on the unique token hash; without a token, each made an admin of its own.
 */
describe("the first admin, with several processes starting together", () => {
  const clock = new ManualClock("2026-05-02T03:00:00Z");
  const dbs: TestDb[] = [];
  const fresh = async () => {
    const db = await createTestDatabase("bootstrap");
    dbs.push(db);
    return db;
  };
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });

  const countAdmins = async (db: TestDb) => (await db.db.selectFrom("operators").select("operator_id").where("role", "=", "admin").execute()).length;

  it("a configured token: every starter succeeds, one admin is made", async () => {
    const db = await fresh();
    const token = "op_bootstrap_race_token_0123456789abcdef";
    const results = await Promise.allSettled([0, 1, 2, 3].map(() => ensureBootstrapAdmin({ db: db.db, clock }, token)));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled"]);
    const created = results.filter((r) => r.status === "fulfilled" && r.value?.created).length;
    expect(created).toBe(1);
    expect(await countAdmins(db)).toBe(1);
  });

  it("no token: one admin is made and its token handed to one starter", async () => {
    const db = await fresh();
    const results = await Promise.all([0, 1, 2, 3].map(() => ensureBootstrapAdmin({ db: db.db, clock }, undefined)));
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    expect(await countAdmins(db)).toBe(1);
  });
});
