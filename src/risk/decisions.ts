import { z } from "zod";
import type { Kysely } from "kysely";
import type { Ctx } from "../context.ts";
import { toPage } from "../db/paging.ts";
import type { Database } from "../db/index.ts";
import { notFound } from "../kernel/errors.ts";
import { recordAudit } from "../operators/index.ts";
import type { RiskAlertRow, RiskDecisionRow } from "./rows.ts";
import type { Actor } from "./rules.ts";

export const FiredOut = z.object({
  rule_id: z.string().describe("the rule (rsk_…) or blocklist entry (blk_…)"),
  name: z.string(),
  kind: z.enum(["velocity", "amount", "first_payment", "blocklist"]),
  scope: z.string(),
  action: z.enum(["reject", "review"]),
  mode: z.enum(["enforce", "shadow"]),
  window_seconds: z.number().int().nullable(),
  max_count: z.number().int().nullable(),
  max_amount: z.number().int().nullable(),
  observed_count: z.number().int().nullable().describe("including the payment or signing decided"),
  observed_amount: z.number().int().nullable().describe("fen, including the payment decided"),
  explanation: z.string(),
});

export const DecisionOut = z.object({
  decision_id: z.string(),
  subject: z.enum(["payment", "signing"]),
  merchant_id: z.string(),
  payment_id: z.string().nullable().describe("null when the payment was rejected (no payment exists)"),
  reference: z.string().describe("out_trade_no of the payment or out_request_no of the signing"),
  amount: z.number().int().nullable(),
  outcome: z.enum(["allow", "review", "reject"]),
  rules_evaluated: z.number().int(),
  fired: z.array(FiredOut).describe("every rule that fired, shadow ones included, with its figures"),
  created_at: z.string(),
});

type FiredStored = Omit<z.infer<typeof FiredOut>, "max_amount" | "observed_amount"> & { max_amount: string | null; observed_amount: string | null };

export function decisionToWire(d: RiskDecisionRow): z.infer<typeof DecisionOut> {
  const fired = (typeof d.fired === "string" ? JSON.parse(d.fired) : d.fired) as FiredStored[];
  return {
    decision_id: d.decision_id,
    subject: d.subject,
    merchant_id: d.merchant_id,
    payment_id: d.payment_id,
    reference: d.reference,
    amount: d.amount === null ? null : Number(d.amount),
    outcome: d.outcome,
    rules_evaluated: d.rules_evaluated,
    fired: fired.map((f) => ({ ...f, max_amount: f.max_amount === null ? null : Number(f.max_amount), observed_amount: f.observed_amount === null ? null : Number(f.observed_amount) })),
    created_at: d.created_at.toISOString(),
  };
}

export interface DecisionQuery {
  merchant_id?: string | undefined;
  payment_id?: string | undefined;
  outcome?: RiskDecisionRow["outcome"] | undefined;
  subject?: RiskDecisionRow["subject"] | undefined;
  cursor?: string | undefined;
  limit: number;
}

export async function listDecisions(db: Kysely<Database>, q: DecisionQuery) {
  let query = db.selectFrom("risk_decisions").selectAll().orderBy("decision_id", "desc").limit(q.limit + 1);
  if (q.merchant_id) query = query.where("merchant_id", "=", q.merchant_id);
  if (q.payment_id) query = query.where("payment_id", "=", q.payment_id);
  if (q.outcome) query = query.where("outcome", "=", q.outcome);
  if (q.subject) query = query.where("subject", "=", q.subject);
  if (q.cursor) query = query.where("decision_id", "<", q.cursor);
  const page = toPage(await query.execute(), q.limit, (r) => r.decision_id);
  return { data: page.data.map(decisionToWire), next_cursor: page.next_cursor };
}

export const AlertOut = z.object({
  alert_id: z.string(),
  kind: z.enum(["payment_review", "signing_review", "merchant_flagged", "merchant_alert"]),
  merchant_id: z.string(),
  payment_id: z.string().nullable(),
  rule_id: z.string().nullable(),
  message: z.string(),
  status: z.enum(["open", "closed"]),
  created_at: z.string(),
  closed_at: z.string().nullable(),
  closed_by: z.string().nullable(),
});

export function alertToWire(a: RiskAlertRow): z.infer<typeof AlertOut> {
  return { ...a, created_at: a.created_at.toISOString(), closed_at: a.closed_at?.toISOString() ?? null };
}

export async function listAlerts(db: Kysely<Database>, q: { status?: "open" | "closed" | undefined; merchant_id?: string | undefined; kind?: RiskAlertRow["kind"] | undefined; cursor?: string | undefined; limit: number }) {
  let query = db.selectFrom("risk_alerts").selectAll().orderBy("alert_id", "desc").limit(q.limit + 1);
  if (q.status) query = query.where("status", "=", q.status);
  if (q.merchant_id) query = query.where("merchant_id", "=", q.merchant_id);
  if (q.kind) query = query.where("kind", "=", q.kind);
  if (q.cursor) query = query.where("alert_id", "<", q.cursor);
  const page = toPage(await query.execute(), q.limit, (r) => r.alert_id);
  return { data: page.data.map(alertToWire), next_cursor: page.next_cursor };
}

/** An operator closes an alert once handled (idempotent; audited the first time). */
export async function closeAlert(ctx: Ctx, alert_id: string, actor: Actor): Promise<RiskAlertRow> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom("risk_alerts").selectAll().where("alert_id", "=", alert_id).forUpdate().executeTakeFirst();
    if (!before) throw notFound("risk alert");
    if (before.status === "closed") return before;
    const after = await trx.updateTable("risk_alerts").set({ status: "closed", closed_at: now, closed_by: actor.operator_id }).where("alert_id", "=", alert_id).returningAll().executeTakeFirstOrThrow();
    await recordAudit(trx, { ...actor, action: "risk.alert.close", target_type: "risk_alert", target_id: alert_id, before: alertToWire(before), after: alertToWire(after) }, now);
    return after;
  });
}
