import { z } from "zod";
import type { Kysely } from "kysely";
import type { Ctx } from "../context.ts";
import { cachedConfig, type Database } from "../db/index.ts";
import { toPage } from "../db/paging.ts";
import { invalidRequest, notFound } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import { AMOUNT_FEN_MAX, fen, fenToWire } from "../kernel/money.ts";
import { recordAudit } from "../operators/index.ts";
import { RISK_LIMITS } from "./limits.ts";
import type { RiskRuleRow, RuleScope, RuleSubject } from "./rows.ts";

export interface Actor {
  operator_id: string;
  request_id: string;
}

const Fen = z.number().int().min(1).max(Number(AMOUNT_FEN_MAX / 1000n));

/** A rule as operators write it. Fields that make no sense together are refused in `checkRule`. */
export const RuleCreate = z.strictObject({
  name: z.string().min(1).max(RISK_LIMITS.rule_name_chars_max).optional(),
  applies_to: z.enum(["payment", "signing"]).default("payment").describe("payment (default): checked before a payment intent is recorded; signing: before a signing starts"),
  kind: z.enum(["velocity", "amount", "first_payment"]).describe("velocity: count over the window; amount: sum over the window; first_payment: cap on a card signed less than window_seconds ago"),
  scope: z.enum(["card", "id_holder", "merchant", "phone"]).describe("what is counted: one card, one ID holder (all cards of one ID number), one merchant ID, one phone (signing only)"),
  max_count: z.number().int().min(1).max(RISK_LIMITS.max_count_max).nullable().optional(),
  max_amount: Fen.nullable().optional().describe("fen"),
  window_seconds: z.number().int().min(1).max(RISK_LIMITS.window_seconds_max),
  action: z.enum(["reject", "review"]),
  mode: z.enum(["enforce", "shadow"]).default("enforce"),
  merchant_id: z.string().min(1).max(64).nullable().optional().describe("only this merchant ID's payments (else every merchant ID)"),
  enabled: z.boolean().default(true),
});
export type RuleCreateInput = z.infer<typeof RuleCreate>;

export const RulePatch = z.strictObject({
  name: z.string().min(1).max(RISK_LIMITS.rule_name_chars_max).optional(),
  max_count: z.number().int().min(1).max(RISK_LIMITS.max_count_max).nullable().optional(),
  max_amount: Fen.nullable().optional(),
  window_seconds: z.number().int().min(1).max(RISK_LIMITS.window_seconds_max).optional(),
  action: z.enum(["reject", "review"]).optional(),
  mode: z.enum(["enforce", "shadow"]).optional(),
  merchant_id: z.string().min(1).max(64).nullable().optional(),
  enabled: z.boolean().optional(),
});
export type RulePatchInput = z.infer<typeof RulePatch>;

export const RuleOut = z.object({
  rule_id: z.string(),
  name: z.string(),
  applies_to: z.enum(["payment", "signing"]),
  kind: z.enum(["velocity", "amount", "first_payment"]),
  scope: z.enum(["card", "id_holder", "merchant", "phone"]),
  max_count: z.number().int().nullable(),
  max_amount: z.number().int().nullable(),
  window_seconds: z.number().int(),
  action: z.enum(["reject", "review"]),
  mode: z.enum(["enforce", "shadow"]),
  merchant_id: z.string().nullable(),
  enabled: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
});

export function ruleToWire(r: RiskRuleRow): z.infer<typeof RuleOut> {
  return {
    rule_id: r.rule_id,
    name: r.name,
    applies_to: r.applies_to,
    kind: r.kind,
    scope: r.scope,
    max_count: r.max_count,
    max_amount: r.max_amount === null ? null : fenToWire(r.max_amount),
    window_seconds: r.window_seconds,
    action: r.action,
    mode: r.mode,
    merchant_id: r.merchant_id,
    enabled: r.enabled,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

const SCOPES: Record<RuleSubject, readonly RuleScope[]> = {
  payment: ["card", "id_holder", "merchant"],
  signing: ["card", "id_holder", "merchant", "phone"],
};

type RuleShape = Pick<RiskRuleRow, "applies_to" | "kind" | "scope" | "max_count" | "max_amount" | "window_seconds" | "merchant_id">;

/** The combinations that mean something; anything else is refused naming the field. */
async function checkRule(db: Kysely<Database>, r: RuleShape & { rule_id?: string; enabled: boolean }): Promise<void> {
  if (!SCOPES[r.applies_to].includes(r.scope)) throw invalidRequest("scope", `${r.applies_to} rules count per ${SCOPES[r.applies_to].join(", ")}`);
  if (r.applies_to === "signing" && r.kind !== "velocity") throw invalidRequest("kind", "signing rules are velocity rules (signings per window)");
  if (r.kind === "first_payment" && r.scope !== "card") throw invalidRequest("scope", "a first-payment cap is per card");
  if (r.kind === "velocity" && r.max_count === null) throw invalidRequest("max_count", "a velocity rule needs max_count");
  if (r.kind === "velocity" && r.max_amount !== null) throw invalidRequest("max_amount", "a velocity rule counts payments: use an amount rule for amounts");
  if (r.kind === "amount" && r.max_amount === null) throw invalidRequest("max_amount", "an amount rule needs max_amount (fen)");
  if (r.kind === "amount" && r.max_count !== null) throw invalidRequest("max_count", "an amount rule sums amounts: use a velocity rule for counts");
  if (r.kind === "first_payment" && r.max_amount === null && r.max_count === null) throw invalidRequest("max_amount", "a first-payment cap needs max_amount or max_count");
  if (r.merchant_id !== null) {
    const m = await db.selectFrom("merchants").select("merchant_id").where("merchant_id", "=", r.merchant_id).executeTakeFirst();
    if (!m) throw invalidRequest("merchant_id", "no such merchant ID");
  }
  if (r.enabled) await checkCapacity(db, r);
}

/** At most `rules_per_payment_max` enabled rules may apply to one payment (or signing). */
async function checkCapacity(db: Kysely<Database>, r: RuleShape & { rule_id?: string }): Promise<void> {
  const counts = await db
    .selectFrom("risk_rules")
    .select(["merchant_id", (eb) => eb.fn.countAll<bigint>().as("n")])
    .where("applies_to", "=", r.applies_to)
    .where("enabled", "=", true)
    .where("rule_id", "!=", r.rule_id ?? "")
    .groupBy("merchant_id")
    .execute();
  const global = Number(counts.find((c) => c.merchant_id === null)?.n ?? 0n);
  const own = r.merchant_id === null ? Math.max(0, ...counts.filter((c) => c.merchant_id !== null).map((c) => Number(c.n))) : Number(counts.find((c) => c.merchant_id === r.merchant_id)?.n ?? 0n);
  if (global + own + 1 > RISK_LIMITS.rules_per_payment_max) {
    throw invalidRequest("enabled", `at most ${RISK_LIMITS.rules_per_payment_max} enabled ${r.applies_to} rules may apply to one merchant ID; disable one first`);
  }
}

function defaultName(r: RuleShape): string {
  const limit = r.kind === "velocity" ? `${r.max_count} ${r.applies_to === "signing" ? "signings" : "payments"}` : r.max_amount !== null ? `${r.max_amount} fen` : `${r.max_count} payments`;
  const what = r.kind === "first_payment" ? "first payments of a new card" : `${r.kind} per ${r.scope}`;
  return `${what}: ${limit} in ${r.window_seconds} s`;
}

export async function createRule(ctx: Ctx, input: RuleCreateInput, actor: Actor): Promise<RiskRuleRow> {
  const now = ctx.clock.now();
  const shape: RuleShape = {
    applies_to: input.applies_to,
    kind: input.kind,
    scope: input.scope,
    max_count: input.max_count ?? null,
    max_amount: input.max_amount === undefined || input.max_amount === null ? null : fen(input.max_amount),
    window_seconds: input.window_seconds,
    merchant_id: input.merchant_id ?? null,
  };
  await checkRule(ctx.db, { ...shape, enabled: input.enabled });
  const row: RiskRuleRow = { ...shape, rule_id: newId("rsk", now.getTime()), name: input.name ?? defaultName(shape), action: input.action, mode: input.mode, enabled: input.enabled, created_at: now, updated_at: now };
  return ctx.db.transaction().execute(async (trx) => {
    const count = await trx.selectFrom("risk_rules").select((eb) => eb.fn.countAll<bigint>().as("n")).executeTakeFirstOrThrow();
    if (Number(count.n) >= RISK_LIMITS.rules_max) throw invalidRequest("rule", `at most ${RISK_LIMITS.rules_max} rules; disable or change an existing one`);
    await trx.insertInto("risk_rules").values(row).execute();
    await recordAudit(trx, { ...actor, action: "risk.rule.create", target_type: "risk_rule", target_id: row.rule_id, before: null, after: ruleToWire(row) }, now);
    return row;
  });
}

export async function patchRule(ctx: Ctx, rule_id: string, patch: RulePatchInput, actor: Actor): Promise<RiskRuleRow> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom("risk_rules").selectAll().where("rule_id", "=", rule_id).forUpdate().executeTakeFirst();
    if (!before) throw notFound("risk rule");
    const after: RiskRuleRow = {
      ...before,
      name: patch.name ?? before.name,
      max_count: patch.max_count === undefined ? before.max_count : patch.max_count,
      max_amount: patch.max_amount === undefined ? before.max_amount : patch.max_amount === null ? null : fen(patch.max_amount),
      window_seconds: patch.window_seconds ?? before.window_seconds,
      action: patch.action ?? before.action,
      mode: patch.mode ?? before.mode,
      merchant_id: patch.merchant_id === undefined ? before.merchant_id : patch.merchant_id,
      enabled: patch.enabled ?? before.enabled,
      updated_at: now,
    };
    await checkRule(trx, after);
    const { rule_id: _id, created_at: _c, ...changes } = after;
    await trx.updateTable("risk_rules").set(changes).where("rule_id", "=", rule_id).execute();
    await recordAudit(trx, { ...actor, action: "risk.rule.update", target_type: "risk_rule", target_id: rule_id, before: ruleToWire(before), after: ruleToWire(after) }, now);
    return after;
  });
}

export async function getRule(db: Kysely<Database>, rule_id: string): Promise<RiskRuleRow> {
  const row = await db.selectFrom("risk_rules").selectAll().where("rule_id", "=", rule_id).executeTakeFirst();
  if (!row) throw notFound("risk rule");
  return row;
}

export async function listRules(db: Kysely<Database>, q: { applies_to?: RuleSubject | undefined; merchant_id?: string | undefined; cursor?: string | undefined; limit: number }) {
  let query = db.selectFrom("risk_rules").selectAll().orderBy("rule_id", "desc").limit(q.limit + 1);
  if (q.applies_to) query = query.where("applies_to", "=", q.applies_to);
  if (q.merchant_id) query = query.where("merchant_id", "=", q.merchant_id);
  if (q.cursor) query = query.where("rule_id", "<", q.cursor);
  const page = toPage(await query.execute(), q.limit, (r) => r.rule_id);
  return { data: page.data.map(ruleToWire), next_cursor: page.next_cursor };
}

/**
 * The enabled rules that apply to one payment or signing at this merchant ID, from the
 * per-process configuration cache (src/db/config-cache.ts): every enabled rule of the subject
 * is read once per configuration version (at most `rules_max` rows) and filtered here. Every
 * write to `risk_rules` moves the version (migration 1700), so a change made through any
 * process applies to the next payment of every process: a payment's intent statement writes
 * nothing when the version moved since the request's cached values were read, and the request
 * runs again on fresh configuration (src/payments/intent.ts). No statement once the cache is warm.
 */
export async function applicableRules(db: Kysely<Database>, subject: RuleSubject, merchant_id: string): Promise<readonly RiskRuleRow[]> {
  const enabled = await cachedConfig(db, `risk_rules:${subject}`, () => enabledRules(db, subject));
  let per_merchant = applicable.get(enabled);
  if (per_merchant === undefined) applicable.set(enabled, (per_merchant = new Map()));
  let rules = per_merchant.get(merchant_id);
  if (rules === undefined) {
    // Bounded: a process that has seen very many merchant IDs under one version starts the map afresh.
    if (per_merchant.size >= RISK_LIMITS.applicable_sets_max) per_merchant.clear();
    rules = Object.freeze(enabled.filter((r) => r.merchant_id === null || r.merchant_id === merchant_id).slice(0, RISK_LIMITS.rules_per_payment_max));
    per_merchant.set(merchant_id, rules);
  }
  return rules;
}

/**
 * Each merchant ID's rules, filtered once per cached version of the enabled rules (the map goes
 * with that version's array): the same frozen array for every payment of the merchant ID until a
 * rule changes, so what is derived from a rule set can be kept with it (src/risk/evaluate.ts).
 */
const applicable = new WeakMap<readonly RiskRuleRow[], Map<string, readonly RiskRuleRow[]>>();

/** Every enabled rule of a subject, in rule_id order (frozen: the cache shares them between requests). */
async function enabledRules(db: Kysely<Database>, subject: RuleSubject): Promise<readonly RiskRuleRow[]> {
  const rows = await db.selectFrom("risk_rules").selectAll().where("applies_to", "=", subject).where("enabled", "=", true).orderBy("rule_id").limit(RISK_LIMITS.rules_max).execute();
  return Object.freeze(rows.map((r) => Object.freeze(r)));
}
