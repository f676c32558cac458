import { toPage } from "../db/paging.ts";
import type { ExpressionBuilder, Kysely } from "kysely";
import type { Ctx } from "../context.ts";
import { cachedConfig, type Database, type MerchantProductRow, type MerchantRow } from "../db/index.ts";
import { PaycoreError, invalidRequest, notFound } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import { fen, fenToWire } from "../kernel/money.ts";
import { recordAudit } from "../operators/index.ts";
import type { Actor } from "./entities.ts";
import { issueKey } from "./keys.ts";
import type { MerchantCreateInput, MerchantPatchInput } from "./schemas.ts";

export interface Merchant {
  row: MerchantRow;
  products: MerchantProductRow[];
  /** A settlement hold (risk): its payouts wait until a second operator releases it. */
  hold: { reason: string; created_at: Date } | null;
}

type SettlementInput = MerchantCreateInput["settlement"];
type LimitsInput = NonNullable<MerchantCreateInput["limits"]>;

/** A merchant ID under an entity, or a sub-merchant ID under a merchant ID (one level). */
async function checkParent(trx: Kysely<Database>, entity_id: string, parent_merchant_id: string | undefined) {
  if (!parent_merchant_id) return;
  const parent = await trx.selectFrom("merchants").select(["merchant_id", "entity_id", "parent_merchant_id"]).where("merchant_id", "=", parent_merchant_id).executeTakeFirst();
  if (!parent) throw invalidRequest("parent_merchant_id", "no such merchant ID");
  if (parent.entity_id !== entity_id) throw invalidRequest("parent_merchant_id", "the parent belongs to another entity");
  if (parent.parent_merchant_id !== null) throw invalidRequest("parent_merchant_id", "a sub-merchant cannot have sub-merchants (one level only)");
}

function settlementColumns(ctx: Ctx, merchant_id: string, settlement: SettlementInput, is_sub: boolean) {
  if (settlement.mode === "parent" && !is_sub) throw invalidRequest("settlement.mode", "'parent' is only for sub-merchants (parent_merchant_id)");
  if (settlement.mode === "own" && !settlement.account) throw invalidRequest("settlement.account", "required when mode is 'own'");
  const account = settlement.mode === "own" ? settlement.account : undefined;
  return {
    settlement_mode: settlement.mode,
    settlement_cycle_days: settlement.cycle_days,
    settlement_account_name: account?.account_name ?? null,
    settlement_account_number_enc: account ? ctx.box.seal(account.account_number, `settlement_account:${merchant_id}`) : null,
    settlement_account_last4: account ? account.account_number.slice(-4) : null,
    settlement_bank_code: account?.bank_code ?? null,
  };
}

function limitColumns(limits: LimitsInput | undefined, current?: MerchantRow) {
  const pick = <K extends keyof LimitsInput>(k: K) => (limits && limits[k] !== undefined ? limits[k] : undefined);
  const amount = (v: number | null | undefined, old: bigint | null | undefined) => (v === undefined ? (old ?? null) : v === null ? null : fen(v));
  const count = pick("card_daily_count");
  return {
    card_daily_amount: amount(pick("card_daily_amount"), current?.card_daily_amount),
    card_daily_count: count === undefined ? (current?.card_daily_count ?? null) : count,
    merchant_daily_amount: amount(pick("merchant_daily_amount"), current?.merchant_daily_amount),
  };
}

async function writeProducts(trx: Kysely<Database>, merchant_id: string, products: MerchantCreateInput["products"]) {
  await trx.deleteFrom("merchant_products").where("merchant_id", "=", merchant_id).execute();
  await trx
    .insertInto("merchant_products")
    .values(products.map((p) => ({ merchant_id, product: p.product, fee_rate_bps: p.fee_rate_bps, fee_min: fen(p.fee_min) })))
    .execute();
}

export async function createMerchant(ctx: Ctx, input: MerchantCreateInput, actor: Actor) {
  const now = ctx.clock.now();
  const merchant_id = newId("mch", now.getTime());
  return ctx.db.transaction().execute(async (trx) => {
    const entity = await trx.selectFrom("entities").select("entity_id").where("entity_id", "=", input.entity_id).executeTakeFirst();
    if (!entity) throw invalidRequest("entity_id", "no such entity");
    await checkParent(trx, input.entity_id, input.parent_merchant_id);
    const row: MerchantRow = {
      merchant_id,
      entity_id: input.entity_id,
      parent_merchant_id: input.parent_merchant_id ?? null,
      name: input.name,
      business_category: input.business_category,
      risk_level: input.risk_level,
      status: "active",
      notify_url: input.notify_url ?? null,
      require_own_confirmation: input.require_own_confirmation ?? input.risk_level === "high",
      trusted_for_silent_reuse: false,
      ...settlementColumns(ctx, merchant_id, input.settlement, input.parent_merchant_id !== undefined),
      ...limitColumns(input.limits),
      is_demo: false,
      created_at: now,
      updated_at: now,
    };
    await trx.insertInto("merchants").values(row).execute();
    await writeProducts(trx, merchant_id, input.products);
    const api_key = await issueKey(trx, ctx.box, merchant_id, now);
    const merchant = await loadMerchant(trx, merchant_id);
    await recordAudit(trx, { ...actor, action: "merchant.create", target_type: "merchant", target_id: merchant_id, before: null, after: merchantToWire(merchant) }, now);
    return { merchant, api_key };
  });
}

export async function loadMerchant(db: Kysely<Database>, merchant_id: string, for_update = false): Promise<Merchant> {
  let q = db.selectFrom("merchants").selectAll().where("merchant_id", "=", merchant_id);
  if (for_update) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  if (!row) throw notFound("merchant");
  const products = await db.selectFrom("merchant_products").selectAll().where("merchant_id", "=", merchant_id).orderBy("product").execute();
  const hold = await db.selectFrom("settlement_holds").select(["reason", "created_at"]).where("merchant_id", "=", merchant_id).executeTakeFirst();
  return { row, products, hold: hold ?? null };
}

export async function patchMerchant(ctx: Ctx, merchant_id: string, patch: MerchantPatchInput, actor: Actor) {
  return ctx.db.transaction().execute((trx) => applyMerchantPatch(ctx, trx, merchant_id, patch, actor));
}

/** Refuses a patch that could not apply (unknown merchant ID, settlement mode it cannot have). */
export async function checkMerchantPatch(ctx: Ctx, db: Kysely<Database>, merchant_id: string, patch: MerchantPatchInput): Promise<void> {
  const { row } = await loadMerchant(db, merchant_id);
  if (patch.settlement) settlementColumns(ctx, merchant_id, patch.settlement, row.parent_merchant_id !== null);
}

/** The patch inside a caller's transaction (a four-eyes approval applies it in its own). */
export async function applyMerchantPatch(ctx: Ctx, trx: Kysely<Database>, merchant_id: string, patch: MerchantPatchInput, actor: Actor) {
  const now = ctx.clock.now();
  const before = await loadMerchant(trx, merchant_id, true);
  const cur = before.row;
  const risk_level = patch.risk_level ?? cur.risk_level;
  const changes: Partial<MerchantRow> = {
    name: patch.name ?? cur.name,
    business_category: patch.business_category ?? cur.business_category,
    risk_level,
    status: patch.status ?? cur.status,
    notify_url: patch.notify_url === undefined ? cur.notify_url : patch.notify_url,
    // Raising a merchant to high risk turns on its own confirmation unless the patch says otherwise.
    require_own_confirmation: patch.require_own_confirmation ?? (patch.risk_level === "high" ? true : cur.require_own_confirmation),
    ...(patch.settlement ? settlementColumns(ctx, merchant_id, patch.settlement, cur.parent_merchant_id !== null) : {}),
    ...limitColumns(patch.limits, cur),
    updated_at: now,
  };
  await trx.updateTable("merchants").set(changes).where("merchant_id", "=", merchant_id).execute();
  if (patch.products) await writeProducts(trx, merchant_id, patch.products);
  const after = await loadMerchant(trx, merchant_id);
  const action = patch.status && patch.status !== cur.status ? `merchant.${patch.status === "suspended" ? "suspend" : "reactivate"}` : "merchant.update";
  await recordAudit(trx, { ...actor, action, target_type: "merchant", target_id: merchant_id, before: merchantToWire(before), after: merchantToWire(after) }, now);
  return after;
}

/**
 * An admin's call: reuse of a card signed at another entity needs no code of the cardholder's at
 * this merchant ID (docs/agreement-payments.md, "Consent across entities"). Audited.
 */
export async function setSilentReuseTrust(ctx: Ctx, merchant_id: string, trusted: boolean, reason: string, actor: Actor) {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const before = await loadMerchant(trx, merchant_id, true);
    await trx.updateTable("merchants").set({ trusted_for_silent_reuse: trusted, updated_at: now }).where("merchant_id", "=", merchant_id).execute();
    const after = await loadMerchant(trx, merchant_id);
    const audit = { ...actor, action: "merchant.silent_reuse", target_type: "merchant", target_id: merchant_id };
    await recordAudit(trx, { ...audit, before: { trusted_for_silent_reuse: before.row.trusted_for_silent_reuse }, after: { trusted_for_silent_reuse: trusted, reason } }, now);
    return after;
  });
}

export interface MerchantListQuery {
  entity_id?: string | undefined;
  parent_merchant_id?: string | undefined;
  status?: "active" | "suspended" | undefined;
  /** Only merchant IDs under a settlement hold (true) or not under one (false). */
  held?: boolean | undefined;
  cursor?: string | undefined;
  limit: number;
}

export async function listMerchants(ctx: Pick<Ctx, "db">, q: MerchantListQuery) {
  let query = ctx.db.selectFrom("merchants").select("merchant_id").orderBy("merchant_id", "desc").limit(q.limit + 1);
  if (q.entity_id) query = query.where("entity_id", "=", q.entity_id);
  if (q.parent_merchant_id) query = query.where("parent_merchant_id", "=", q.parent_merchant_id);
  if (q.status) query = query.where("status", "=", q.status);
  if (q.held !== undefined) {
    const held = (eb: ExpressionBuilder<Database, "merchants">) => eb.exists(eb.selectFrom("settlement_holds as h").select("h.merchant_id").whereRef("h.merchant_id", "=", "merchants.merchant_id"));
    query = query.where((eb) => (q.held ? held(eb) : eb.not(held(eb))));
  }
  if (q.cursor) query = query.where("merchant_id", "<", q.cursor);
  const page = toPage(await query.execute(), q.limit, (r) => r.merchant_id);
  const data = [];
  for (const { merchant_id } of page.data) data.push(merchantToWire(await loadMerchant(ctx.db, merchant_id)));
  return { data, next_cursor: page.next_cursor };
}

/**
 * Whether a merchant ID may transact now: its own status, and its parent's for a sub-merchant
 * (suspending a group's merchant ID stops its stores too).
 */
export async function effectiveStatus(db: Kysely<Database>, row: Pick<MerchantRow, "status" | "parent_merchant_id">): Promise<"active" | "suspended"> {
  if (row.status === "suspended") return "suspended";
  if (!row.parent_merchant_id) return "active";
  const parent = await cachedMerchant(db, row.parent_merchant_id);
  return parent?.status === "active" ? "active" : "suspended";
}

/** The merchant row from cached configuration (src/db/config-cache.ts); undefined when unknown. */
export async function cachedMerchant(db: Kysely<Database>, merchant_id: string): Promise<MerchantRow | undefined> {
  return cachedConfig(db, `merchant:${merchant_id}`, () => db.selectFrom("merchants").selectAll().where("merchant_id", "=", merchant_id).executeTakeFirst());
}

export function assertActive(status: "active" | "suspended"): void {
  if (status === "suspended") throw new PaycoreError("merchant_suspended", "this merchant ID is suspended");
}

export function merchantToWire(m: Merchant) {
  const r = m.row;
  const amount = (v: bigint | null) => (v === null ? null : fenToWire(v));
  return {
    merchant_id: r.merchant_id,
    entity_id: r.entity_id,
    parent_merchant_id: r.parent_merchant_id,
    name: r.name,
    business_category: r.business_category,
    risk_level: r.risk_level,
    status: r.status,
    products: m.products.map((p) => ({ product: p.product, fee_rate_bps: p.fee_rate_bps, fee_min: fenToWire(p.fee_min) })),
    settlement: {
      mode: r.settlement_mode,
      cycle_days: r.settlement_cycle_days,
      account:
        r.settlement_mode === "own" && r.settlement_account_name && r.settlement_account_last4 && r.settlement_bank_code
          ? { account_name: r.settlement_account_name, account_number_last4: r.settlement_account_last4, bank_code: r.settlement_bank_code }
          : null,
    },
    notify_url: r.notify_url,
    limits: { card_daily_amount: amount(r.card_daily_amount), card_daily_count: r.card_daily_count, merchant_daily_amount: amount(r.merchant_daily_amount) },
    require_own_confirmation: r.require_own_confirmation,
    trusted_for_silent_reuse: r.trusted_for_silent_reuse,
    settlement_hold: m.hold ? { reason: m.hold.reason, since: m.hold.created_at.toISOString() } : null,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}
