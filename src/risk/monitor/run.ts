import { z } from "zod";
import type { Kysely } from "kysely";
import type { Ctx } from "../../context.ts";
import { toPage } from "../../db/paging.ts";
import type { Database } from "../../db/index.ts";
import { invalidRequest, notFound } from "../../kernel/errors.ts";
import { newId } from "../../kernel/ids.ts";
import { applyMerchantPatch } from "../../merchants/index.ts";
import { recordAudit } from "../../operators/index.ts";
import { getSettlementHold, holdSettlement } from "../../settlement/index.ts";
import { RISK_LIMITS } from "../limits.ts";
import type { RiskMerchantScoreRow, RiskMonitorRunRow, RiskSettingsRow } from "../rows.ts";
import type { Actor } from "../rules.ts";
import { gatherFeatures } from "./features.ts";
import { scoreMerchant, type Signal } from "./signals.ts";

/** Who acts when the monitor itself holds a merchant ID's settlement (audit log's operator). */
export const MONITOR_ACTOR = "system:risk-monitor";

export const SettingsPatch = z.strictObject({
  flag_threshold: z.number().int().min(1).max(100).optional(),
  auto_hold_threshold: z.number().int().min(1).max(100).nullable().optional().describe("null: no automatic hold (the default)"),
  window_days: z.number().int().min(1).max(31).optional(),
});

export async function getMonitorSettings(db: Kysely<Database>): Promise<RiskSettingsRow> {
  return db.selectFrom("risk_settings").selectAll().where("id", "=", 1).executeTakeFirstOrThrow();
}

export async function patchMonitorSettings(ctx: Ctx, patch: z.infer<typeof SettingsPatch>, actor: Actor): Promise<RiskSettingsRow> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom("risk_settings").selectAll().where("id", "=", 1).forUpdate().executeTakeFirstOrThrow();
    const after: RiskSettingsRow = {
      ...before,
      flag_threshold: patch.flag_threshold ?? before.flag_threshold,
      auto_hold_threshold: patch.auto_hold_threshold === undefined ? before.auto_hold_threshold : patch.auto_hold_threshold,
      window_days: patch.window_days ?? before.window_days,
      updated_at: now,
    };
    if (after.auto_hold_threshold !== null && after.auto_hold_threshold <= after.flag_threshold) {
      throw invalidRequest("auto_hold_threshold", "must be above flag_threshold (a hold is for the worst of the flagged)");
    }
    await trx.updateTable("risk_settings").set(after).where("id", "=", 1).execute();
    await recordAudit(trx, { ...actor, action: "risk.settings.update", target_type: "risk_settings", target_id: "1", before, after }, now);
    return after;
  });
}

export interface MonitorProgress {
  done: number;
  total: number;
}

export interface MonitorOptions {
  /** `hourly:<hour>` for the schedule (once across processes), unique otherwise. */
  run_key?: string;
  triggered_by: string;
  on_progress?: (p: MonitorProgress) => void;
}

/**
 * Scores every merchant ID with payments in the window against its own history and its declared
 * category, stores the score and signals, raises an alert for a newly flagged merchant ID and,
 * when configured, holds the settlement of one above the automatic-hold threshold. Answers null
 * when another process already ran this scheduled run.
 */
export async function runMonitor(ctx: Ctx, o: MonitorOptions): Promise<RiskMonitorRunRow | null> {
  const now = ctx.clock.now();
  const run_id = newId("rmr", now.getTime());
  const claimed = await ctx.db
    .insertInto("risk_monitor_runs")
    .values({ run_id, run_key: o.run_key ?? run_id, triggered_by: o.triggered_by, status: "running", merchants: 0, flagged: 0, held: 0, started_at: now, finished_at: null })
    .onConflict((oc) => oc.column("run_key").doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!claimed) return null;
  try {
    const settings = await getMonitorSettings(ctx.db);
    const start = new Date(now.getTime() - settings.window_days * 86_400_000);
    const features = await gatherFeatures(ctx.db, ctx.box, start, now);
    const counts = { merchants: 0, flagged: 0, held: 0 };
    const total = features.size;
    o.on_progress?.({ done: 0, total });
    for (const [merchant_id, f] of features) {
      const scored = f.payments < RISK_LIMITS.monitor_min_payments ? { score: 0, signals: [] as Signal[] } : scoreMerchant(f);
      const flagged = scored.score >= settings.flag_threshold;
      const held = await storeScore(ctx, { merchant_id, score: scored.score, flagged, signals: scored.signals, payments: f.payments, window_start: start, window_end: now, run_id, scored_at: now }, settings);
      counts.merchants += 1;
      if (flagged) counts.flagged += 1;
      if (held) counts.held += 1;
      o.on_progress?.({ done: counts.merchants, total });
    }
    return await ctx.db.updateTable("risk_monitor_runs").set({ ...counts, status: "done", finished_at: ctx.clock.now() }).where("run_id", "=", run_id).returningAll().executeTakeFirstOrThrow();
  } catch (err) {
    await ctx.db.updateTable("risk_monitor_runs").set({ status: "failed", finished_at: ctx.clock.now() }).where("run_id", "=", run_id).execute();
    throw err;
  }
}

/** Stores one score; a newly flagged merchant ID gets an alert, one above the hold line a hold. */
async function storeScore(ctx: Ctx, row: RiskMerchantScoreRow, settings: RiskSettingsRow): Promise<boolean> {
  const now = row.scored_at;
  const values = { ...row, signals: JSON.stringify(row.signals) };
  await ctx.db.insertInto("risk_merchant_scores").values(values).onConflict((oc) => oc.column("merchant_id").doUpdateSet(values)).execute();
  if (!row.flagged) return false;
  const top = (row.signals as Signal[]).filter((s) => s.contribution > 0).slice(0, 3).map((s) => s.detail).join("; ");
  const open = await ctx.db.selectFrom("risk_alerts").select("alert_id").where("merchant_id", "=", row.merchant_id).where("kind", "=", "merchant_flagged").where("status", "=", "open").executeTakeFirst();
  if (!open) {
    await ctx.db
      .insertInto("risk_alerts")
      .values({ alert_id: newId("ral", now.getTime()), kind: "merchant_flagged", merchant_id: row.merchant_id, payment_id: null, rule_id: null, message: `merchant ID ${row.merchant_id} scored ${row.score}: ${top}`, status: "open", created_at: now, closed_at: null, closed_by: null })
      .execute();
  }
  if (settings.auto_hold_threshold === null || row.score < settings.auto_hold_threshold) return false;
  if (await getSettlementHold(ctx.db, row.merchant_id)) return false;
  await holdSettlement(ctx, row.merchant_id, `risk monitor: score ${row.score} ≥ automatic hold threshold ${settings.auto_hold_threshold}`);
  await recordAudit(ctx.db, { operator_id: MONITOR_ACTOR, request_id: row.run_id, action: "settlement.hold", target_type: "merchant", target_id: row.merchant_id, before: null, after: { score: row.score, reason: "automatic hold" } }, now);
  return true;
}

export const SignalOut = z.object({
  name: z.string(),
  value: z.number().describe("the measured figure: a share 0–1, a ratio or a count"),
  weight: z.number().describe("points this signal can contribute at most"),
  contribution: z.number().describe("points it contributed to the score"),
  detail: z.string(),
});

export const MerchantScoreOut = z.object({
  merchant_id: z.string(),
  score: z.number().int(),
  flagged: z.boolean(),
  signals: z.array(SignalOut),
  payments: z.number().int().describe("payments in the window scored"),
  window_start: z.string(),
  window_end: z.string(),
  run_id: z.string(),
  scored_at: z.string(),
});

export function scoreToWire(r: RiskMerchantScoreRow): z.infer<typeof MerchantScoreOut> {
  const signals = (typeof r.signals === "string" ? JSON.parse(r.signals) : r.signals) as Signal[];
  return { ...r, signals, window_start: r.window_start.toISOString(), window_end: r.window_end.toISOString(), scored_at: r.scored_at.toISOString() };
}

export async function listMerchantScores(db: Kysely<Database>, q: { flagged?: boolean | undefined; cursor?: string | undefined; limit: number }) {
  let query = db.selectFrom("risk_merchant_scores").selectAll().orderBy("merchant_id", "desc").limit(q.limit + 1);
  if (q.flagged !== undefined) query = query.where("flagged", "=", q.flagged);
  if (q.cursor) query = query.where("merchant_id", "<", q.cursor);
  const page = toPage(await query.execute(), q.limit, (r) => r.merchant_id);
  return { data: page.data.map(scoreToWire), next_cursor: page.next_cursor };
}

export async function getMerchantScore(db: Kysely<Database>, merchant_id: string): Promise<RiskMerchantScoreRow> {
  const row = await db.selectFrom("risk_merchant_scores").selectAll().where("merchant_id", "=", merchant_id).executeTakeFirst();
  if (!row) throw notFound("merchant score");
  return row;
}

export const MerchantAction = z.strictObject({
  action: z.enum(["alert", "settlement_hold", "suspend"]),
  reason: z.string().min(1).max(RISK_LIMITS.reason_chars_max),
});

/**
 * An operator acts on a merchant ID: an alert for the console and API, a settlement hold (money
 * stays pending; releasing it takes a second operator's approval), or suspension. Audited.
 */
export async function actOnMerchant(ctx: Ctx, merchant_id: string, input: z.infer<typeof MerchantAction>, actor: Actor): Promise<{ action: string; merchant_id: string; alert_id: string | null }> {
  const now = ctx.clock.now();
  const merchant = await ctx.db.selectFrom("merchants").select(["merchant_id", "status"]).where("merchant_id", "=", merchant_id).executeTakeFirst();
  if (!merchant) throw notFound("merchant");
  switch (input.action) {
    case "alert": {
      const alert_id = newId("ral", now.getTime());
      await ctx.db.transaction().execute(async (trx) => {
        await trx.insertInto("risk_alerts").values({ alert_id, kind: "merchant_alert", merchant_id, payment_id: null, rule_id: null, message: input.reason, status: "open", created_at: now, closed_at: null, closed_by: null }).execute();
        await recordAudit(trx, { ...actor, action: "risk.merchant.alert", target_type: "merchant", target_id: merchant_id, before: null, after: { reason: input.reason, alert_id } }, now);
      });
      return { action: input.action, merchant_id, alert_id };
    }
    case "settlement_hold":
      await holdSettlement(ctx, merchant_id, `risk: ${input.reason}`);
      await recordAudit(ctx.db, { ...actor, action: "settlement.hold", target_type: "merchant", target_id: merchant_id, before: null, after: { reason: input.reason, source: "risk" } }, now);
      return { action: input.action, merchant_id, alert_id: null };
    case "suspend":
      await ctx.db.transaction().execute(async (trx) => {
        await applyMerchantPatch(ctx, trx, merchant_id, { status: "suspended" }, actor);
        await recordAudit(trx, { ...actor, action: "risk.merchant.suspend", target_type: "merchant", target_id: merchant_id, before: { status: merchant.status }, after: { status: "suspended", reason: input.reason } }, now);
      });
      return { action: input.action, merchant_id, alert_id: null };
  }
}
