import { sql, type Kysely } from "kysely";
import type { Ctx } from "../context.ts";
import type { Database, OperatorRow } from "../db/index.ts";
import { randomToken, sha256Hex } from "../kernel/crypto/index.ts";
import { PaycoreError } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";

export type OperatorRole = OperatorRow["role"];
export const OPERATOR_ROLES: readonly OperatorRole[] = ["admin", "operator", "auditor"];

export interface Operator {
  operator_id: string;
  name: string;
  role: OperatorRole;
}

/** Operator tokens are random 256-bit strings; only their SHA-256 is stored. */
export function hashToken(token: string): string {
  return sha256Hex(`paycore-operator-token\n${token}`);
}

export async function createOperator(
  ctx: Pick<Ctx, "db" | "clock">,
  input: { name: string; role: OperatorRole; token?: string },
): Promise<{ operator: Operator; token: string }> {
  const token = input.token ?? randomToken("pco_");
  const operator_id = newId("op", ctx.clock.now().getTime());
  await ctx.db
    .insertInto("operators")
    .values({ operator_id, name: input.name, role: input.role, token_hash: hashToken(token), status: "active", created_at: ctx.clock.now() })
    .execute();
  return { operator: { operator_id, name: input.name, role: input.role }, token };
}

export async function authenticateOperator(db: Kysely<Database>, token: string): Promise<Operator | null> {
  const row = await db
    .selectFrom("operators")
    .select(["operator_id", "name", "role", "status"])
    .where("token_hash", "=", hashToken(token))
    .executeTakeFirst();
  if (!row || row.status !== "active") return null;
  return { operator_id: row.operator_id, name: row.name, role: row.role };
}

export async function listOperators(db: Kysely<Database>): Promise<Operator[]> {
  return db.selectFrom("operators").select(["operator_id", "name", "role"]).where("status", "=", "active").orderBy("operator_id").execute();
}

/** The advisory lock the first admin is made under (the migrations' is 7291001). */
const BOOTSTRAP_LOCK_KEY = 7291002;

/**
 * First start: make sure an admin exists. With a configured token, that token is an admin's
 * (created if no operator holds it). Without one, an admin is created only when there is no
 * operator at all, and its generated token is returned to be printed once.
 *
 * Made once: several paycore processes starting together on an empty database
 * take turns under a transaction-scoped advisory lock, and the later ones find the admin made.
 * (Without it, both inserted the configured token and the second process died on the unique
 * token hash; without a configured token, each made and printed an admin of its own.)
 */
export async function ensureBootstrapAdmin(
  ctx: Pick<Ctx, "db" | "clock">,
  configured_token: string | undefined,
): Promise<{ token: string; created: boolean } | null> {
  return ctx.db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK_KEY})`.execute(trx);
    const tctx = { db: trx, clock: ctx.clock };
    if (configured_token) {
      const existing = await authenticateOperator(trx, configured_token);
      if (existing) {
        if (existing.role !== "admin") throw new PaycoreError("forbidden", "PAYCORE_ADMIN_TOKEN belongs to an operator who is not an admin");
        return { token: configured_token, created: false };
      }
      const { token } = await createOperator(tctx, { name: "admin", role: "admin", token: configured_token });
      return { token, created: true };
    }
    const any = await trx.selectFrom("operators").select("operator_id").limit(1).executeTakeFirst();
    if (any) return null;
    const { token } = await createOperator(tctx, { name: "admin", role: "admin" });
    return { token, created: true };
  });
}

/** The operator the `paycore` CLI acts as when it asks the running server (audit log: "paycore CLI"). */
export const LOCAL_CLI_OPERATOR_ID = "op_local_cli";

/**
 * The "paycore CLI" operator, for what the CLI records itself on PostgreSQL (a proposal it makes):
 * created with an unusable token if no server has started on this database yet.
 */
export async function localCliOperator(ctx: Pick<Ctx, "db" | "clock">): Promise<Operator> {
  await ctx.db
    .insertInto("operators")
    .values({ operator_id: LOCAL_CLI_OPERATOR_ID, name: "paycore CLI", role: "admin", token_hash: hashToken(randomToken("pco_")), status: "active", created_at: ctx.clock.now() })
    .onConflict((oc) => oc.column("operator_id").doNothing())
    .execute();
  return { operator_id: LOCAL_CLI_OPERATOR_ID, name: "paycore CLI", role: "admin" };
}

/**
 * A fresh admin token for the CLI on this machine, made at every server start: the previous one
 * stops working. The server hands it over only through the data directory's lock file (mode 0600),
 * so whoever may read it could open the database files anyway.
 */
export async function rotateLocalCliToken(ctx: Pick<Ctx, "db" | "clock">): Promise<string> {
  const token = randomToken("pco_");
  await ctx.db
    .insertInto("operators")
    .values({ operator_id: LOCAL_CLI_OPERATOR_ID, name: "paycore CLI", role: "admin", token_hash: hashToken(token), status: "active", created_at: ctx.clock.now() })
    .onConflict((oc) => oc.column("operator_id").doUpdateSet({ token_hash: hashToken(token), status: "active" }))
    .execute();
  return token;
}
