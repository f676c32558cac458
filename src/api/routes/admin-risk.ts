import { z } from "zod";
import type { Ctx } from "../../context.ts";
import {
  AlertOut,
  BlocklistCreate,
  BlocklistOut,
  DecisionOut,
  RuleCreate,
  RuleOut,
  RulePatch,
  addBlocklistEntry,
  alertToWire,
  blocklistToWire,
  closeAlert,
  createRule,
  getRule,
  listAlerts,
  listBlocklist,
  listDecisions,
  listRules,
  patchRule,
  removeBlocklistEntry,
  ruleToWire,
  MerchantAction,
  MerchantScoreOut,
  SettingsPatch,
  actOnMerchant,
  getMerchantScore,
  getMonitorSettings,
  listMerchantScores,
  patchMonitorSettings,
  runMonitor,
  scoreToWire,
} from "../../risk/index.ts";
import { adminRoute, type RouteDef } from "../route.ts";
import { IdParam, PageQuery, listOf } from "./common.ts";

const TAGS = ["Admin: risk"];
type Actor = { operator: { operator_id: string }; request_id: string };
const actor = (i: Actor) => ({ operator_id: i.operator.operator_id, request_id: i.request_id });

/** Risk rules, blocklists, decisions and alerts. */
export function adminRiskRoutes(ctx: Ctx): RouteDef[] {
  return [...ruleRoutes(ctx), ...blocklistRoutes(ctx), ...decisionRoutes(ctx), ...monitorRoutes(ctx)];
}

const RunOut = z.object({
  run_id: z.string(),
  status: z.enum(["running", "done", "failed"]),
  merchants: z.number().int(),
  flagged: z.number().int(),
  held: z.number().int(),
  started_at: z.string(),
  finished_at: z.string().nullable(),
});
const SettingsOut = z.object({ flag_threshold: z.number().int(), auto_hold_threshold: z.number().int().nullable(), window_days: z.number().int() });
const settingsToWire = (s: { flag_threshold: number; auto_hold_threshold: number | null; window_days: number }) => ({ flag_threshold: s.flag_threshold, auto_hold_threshold: s.auto_hold_threshold, window_days: s.window_days });

function monitorRoutes(ctx: Ctx): RouteDef[] {
  return [
    adminRoute({
      method: "POST",
      url: "/admin/v1/risk/monitor/run",
      summary: "Score every merchant ID on its recent traffic now (the schedule does it hourly)",
      tags: TAGS,
      response: RunOut,
      handler: async (i) => {
        const run = (await runMonitor(ctx, { triggered_by: i.operator.operator_id }))!;
        return { body: { run_id: run.run_id, status: run.status, merchants: run.merchants, flagged: run.flagged, held: run.held, started_at: run.started_at.toISOString(), finished_at: run.finished_at?.toISOString() ?? null } };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/risk/merchants",
      summary: "Merchant IDs' latest monitoring scores (0–100) with each signal's contribution; flagged=true for those above the threshold",
      tags: TAGS,
      query: z.strictObject({ ...PageQuery, flagged: z.enum(["true", "false"]).optional() }),
      response: listOf(MerchantScoreOut),
      handler: async (i) => ({ body: await listMerchantScores(ctx.db, { ...i.query, flagged: i.query.flagged === undefined ? undefined : i.query.flagged === "true" }) }),
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/risk/merchants/:merchant_id",
      summary: "One merchant ID's latest monitoring score and signals",
      tags: TAGS,
      params: IdParam("merchant_id"),
      response: MerchantScoreOut,
      handler: async (i) => ({ body: scoreToWire(await getMerchantScore(ctx.db, (i.params as { merchant_id: string }).merchant_id)) }),
    }),
    adminRoute({
      method: "POST",
      url: "/admin/v1/risk/merchants/:merchant_id/actions",
      summary: "Act on a merchant ID: alert, settlement_hold (release needs a second operator) or suspend; audited",
      tags: TAGS,
      params: IdParam("merchant_id"),
      body: MerchantAction,
      response: z.object({ action: z.string(), merchant_id: z.string(), alert_id: z.string().nullable() }),
      handler: async (i) => ({ body: await actOnMerchant(ctx, (i.params as { merchant_id: string }).merchant_id, i.body, actor(i)) }),
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/risk/settings",
      summary: "Monitoring settings: flag threshold, automatic hold threshold (null = off), window in days",
      tags: TAGS,
      response: SettingsOut,
      handler: async () => ({ body: settingsToWire(await getMonitorSettings(ctx.db)) }),
    }),
    adminRoute({
      method: "PATCH",
      url: "/admin/v1/risk/settings",
      summary: "Change the monitoring settings; audited",
      tags: TAGS,
      roles: ["admin"],
      body: SettingsPatch,
      response: SettingsOut,
      handler: async (i) => ({ body: settingsToWire(await patchMonitorSettings(ctx, i.body, actor(i))) }),
    }),
  ];
}

function ruleRoutes(ctx: Ctx): RouteDef[] {
  return [
    adminRoute({
      method: "GET",
      url: "/admin/v1/risk/rules",
      summary: "Risk rules",
      tags: TAGS,
      query: z.strictObject({ ...PageQuery, applies_to: z.enum(["payment", "signing"]).optional(), merchant_id: z.string().max(64).optional() }),
      response: listOf(RuleOut),
      handler: async (i) => ({ body: await listRules(ctx.db, i.query) }),
    }),
    adminRoute({
      method: "POST",
      url: "/admin/v1/risk/rules",
      summary: "Add a risk rule; it applies from the next payment (or signing) in every paycore process",
      tags: TAGS,
      body: RuleCreate,
      response: RuleOut,
      success_status: 201,
      handler: async (i) => ({ status: 201, body: ruleToWire(await createRule(ctx, i.body, actor(i))) }),
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/risk/rules/:rule_id",
      summary: "One risk rule",
      tags: TAGS,
      params: IdParam("rule_id"),
      response: RuleOut,
      handler: async (i) => ({ body: ruleToWire(await getRule(ctx.db, (i.params as { rule_id: string }).rule_id)) }),
    }),
    adminRoute({
      method: "PATCH",
      url: "/admin/v1/risk/rules/:rule_id",
      summary: "Change a risk rule (limits, window, action, mode, merchant ID, enabled); audited",
      tags: TAGS,
      params: IdParam("rule_id"),
      body: RulePatch,
      response: RuleOut,
      handler: async (i) => ({ body: ruleToWire(await patchRule(ctx, (i.params as { rule_id: string }).rule_id, i.body, actor(i))) }),
    }),
  ];
}

function blocklistRoutes(ctx: Ctx): RouteDef[] {
  return [
    adminRoute({
      method: "POST",
      url: "/admin/v1/risk/blocklist",
      summary: "Block a card number, ID number or phone (kept only as a keyed fingerprint): its payments and signings are refused",
      tags: TAGS,
      body: BlocklistCreate,
      response: BlocklistOut,
      success_status: 201,
      handler: async (i) => {
        const { entry, created } = await addBlocklistEntry(ctx, i.body, actor(i));
        return { status: created ? 201 : 200, body: blocklistToWire(entry) };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/risk/blocklist",
      summary: "Blocklist entries (kind, the value's last four characters, reason)",
      tags: TAGS,
      query: z.strictObject({ ...PageQuery, kind: z.enum(["card_number", "id_number", "phone"]).optional() }),
      response: listOf(BlocklistOut),
      handler: async (i) => ({ body: await listBlocklist(ctx.db, i.query) }),
    }),
    adminRoute({
      method: "DELETE",
      url: "/admin/v1/risk/blocklist/:entry_id",
      summary: "Remove a blocklist entry; audited",
      tags: TAGS,
      params: IdParam("entry_id"),
      response: z.object({ removed: z.literal(true) }),
      handler: async (i) => {
        await removeBlocklistEntry(ctx, (i.params as { entry_id: string }).entry_id, actor(i));
        return { body: { removed: true as const } };
      },
    }),
  ];
}

function decisionRoutes(ctx: Ctx): RouteDef[] {
  return [
    adminRoute({
      method: "GET",
      url: "/admin/v1/risk/decisions",
      summary: "What the risk rules decided for payments and signings, with the rules that fired and their figures",
      tags: TAGS,
      query: z.strictObject({
        ...PageQuery,
        merchant_id: z.string().max(64).optional(),
        payment_id: z.string().max(64).optional(),
        outcome: z.enum(["allow", "review", "reject"]).optional(),
        subject: z.enum(["payment", "signing"]).optional(),
      }),
      response: listOf(DecisionOut),
      handler: async (i) => ({ body: await listDecisions(ctx.db, i.query) }),
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/risk/alerts",
      summary: "Risk alerts: payments let through for review, merchant IDs the monitor flagged or an operator alerted",
      tags: TAGS,
      query: z.strictObject({
        ...PageQuery,
        status: z.enum(["open", "closed"]).optional(),
        merchant_id: z.string().max(64).optional(),
        kind: z.enum(["payment_review", "signing_review", "merchant_flagged", "merchant_alert"]).optional(),
      }),
      response: listOf(AlertOut),
      handler: async (i) => ({ body: await listAlerts(ctx.db, i.query) }),
    }),
    adminRoute({
      method: "POST",
      url: "/admin/v1/risk/alerts/:alert_id/close",
      summary: "Close a handled risk alert; audited",
      tags: TAGS,
      params: IdParam("alert_id"),
      response: AlertOut,
      handler: async (i) => ({ body: alertToWire(await closeAlert(ctx, (i.params as { alert_id: string }).alert_id, actor(i))) }),
    }),
  ];
}
