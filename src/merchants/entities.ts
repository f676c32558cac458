import { sql } from "kysely";
import { toPage } from "../db/paging.ts";
import type { Ctx } from "../context.ts";
import type { EntityRow } from "../db/index.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { luhnCheckDigit } from "../kernel/checks.ts";
import { PaycoreError, notFound } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import { recordAudit } from "../operators/index.ts";
import type { EntityCreateInput } from "./schemas.ts";

export interface Actor {
  operator_id: string;
  request_id: string;
}

/** Payment account numbers: `8801` + 11-digit sequence + Luhn digit (16 digits, unique). */
function paymentAccountNo(seq: bigint): string {
  const body = `8801${seq.toString().padStart(11, "0")}`;
  return body + luhnCheckDigit(body);
}

/** The entity already registered under this USCC answers a repeat with the same legal name. */
function repeatOf(existing: EntityRow, input: EntityCreateInput): { entity: EntityRow; created: false } {
  if (existing.legal_name !== input.legal_name) {
    throw new PaycoreError("invalid_request", `uscc: an entity with this code exists under another legal name (${existing.entity_id})`, "uscc");
  }
  return { entity: existing, created: false };
}

export async function createEntity(ctx: Ctx, input: EntityCreateInput, actor: Actor): Promise<{ entity: EntityRow; created: boolean }> {
  const byUscc = () => ctx.db.selectFrom("entities").selectAll().where("uscc", "=", input.uscc).executeTakeFirst();
  const existing = await byUscc();
  if (existing) return repeatOf(existing, input);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const seq = await sql<{ v: bigint }>`SELECT nextval('payment_account_seq') AS v`.execute(trx);
    const row: EntityRow = {
      entity_id: newId("ent", now.getTime()),
      legal_name: input.legal_name,
      uscc: input.uscc,
      payment_account_no: paymentAccountNo(seq.rows[0]!.v),
      created_at: now,
      updated_at: now,
    };
    await trx.insertInto("entities").values(row).execute();
    await recordAudit(trx, { ...actor, action: "entity.create", target_type: "entity", target_id: row.entity_id, before: null, after: row }, now);
    return { entity: row, created: true };
  }).catch(async (err: unknown) => {
    // A concurrent registration of the same USCC won the unique key: this one is its repeat.
    const other = isUniqueViolation(err, "entities_uscc_key") ? await byUscc() : undefined;
    if (!other) throw err;
    return repeatOf(other, input);
  });
}

export async function getEntity(ctx: Pick<Ctx, "db">, entity_id: string): Promise<EntityRow> {
  const row = await ctx.db.selectFrom("entities").selectAll().where("entity_id", "=", entity_id).executeTakeFirst();
  if (!row) throw notFound("entity");
  return row;
}

export function entityToWire(row: EntityRow) {
  return {
    entity_id: row.entity_id,
    legal_name: row.legal_name,
    uscc: row.uscc,
    payment_account_no: row.payment_account_no,
    created_at: row.created_at.toISOString(),
  };
}

/** `GET /admin/v1/entities`: newest first; `q` finds a USCC exactly or a part of the legal name. */
export async function listEntities(ctx: Pick<Ctx, "db">, q: { q?: string | undefined; cursor?: string | undefined; limit: number }) {
  let query = ctx.db.selectFrom("entities").selectAll().orderBy("entity_id", "desc").limit(q.limit + 1);
  if (q.q) {
    const needle = q.q.trim();
    const like = `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) => eb.or([eb("uscc", "=", needle.toUpperCase()), eb("legal_name", "ilike", like)]));
  }
  if (q.cursor) query = query.where("entity_id", "<", q.cursor);
  return toPage(await query.execute(), q.limit, (r) => r.entity_id);
}

/** The entity's merchant IDs (and sub-merchant IDs), for its detail view. */
export async function entityMerchants(ctx: Pick<Ctx, "db">, entity_id: string) {
  return ctx.db
    .selectFrom("merchants")
    .select(["merchant_id", "name", "parent_merchant_id", "status"])
    .where("entity_id", "=", entity_id)
    .orderBy("merchant_id")
    .limit(ENTITY_MERCHANTS_SHOWN_MAX)
    .execute();
}

const ENTITY_MERCHANTS_SHOWN_MAX = 1_000;
