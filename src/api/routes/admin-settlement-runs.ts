import { z } from "zod";
import type { Ctx } from "../../context.ts";
import type { SettlementRunRow } from "../../db/index.ts";
import { toPage } from "../../db/paging.ts";
import { notFound } from "../../kernel/errors.ts";
import { fenToWire } from "../../kernel/money.ts";
import { isIsoDate } from "../../ledger/index.ts";
import { getSettlementRun, listSettlementRuns } from "../../settlement/index.ts";
import { adminRoute, type RouteDef } from "../route.ts";
import { PageQuery, listOf } from "./common.ts";

const STATUSES = ["running", "done", "failed"] as const;

export const SettlementRunOut = z.object({
  run_id: z.string(),
  date: z.string(),
  status: z.enum(STATUSES).describe("failed: stopped by an error, or no progress recorded for 15 minutes (its process stopped)"),
  progress: z.object({
    phase: z.enum(["settle", "payout", "done"]).describe("settle: settlement groups; payout: open payout instructions executed"),
    done: z.number().int(),
    total: z.number().int(),
    updated_at: z.string(),
  }),
  operator_id: z.string().nullable().describe("Who started it; null for `paycore settle`"),
  records_created: z.number().int(),
  payouts_created: z.number().int(),
  amount_instructed: z.number().int().describe("Fen"),
  error: z.string().nullable(),
  started_at: z.string(),
  finished_at: z.string().nullable(),
});

export const settlementRunToWire = (r: SettlementRunRow): z.infer<typeof SettlementRunOut> => ({
  run_id: r.run_id,
  date: r.settlement_date,
  status: r.status,
  progress: { phase: r.phase, done: r.done, total: r.total, updated_at: r.updated_at.toISOString() },
  operator_id: r.operator_id,
  records_created: r.records_created,
  payouts_created: r.payouts_created,
  amount_instructed: fenToWire(r.amount_instructed),
  error: r.error,
  started_at: r.started_at.toISOString(),
  finished_at: r.finished_at?.toISOString() ?? null,
});

/** Settlement runs with their progress, from whichever paycore process (or CLI) runs them. */
export function adminSettlementRunRoutes(ctx: Ctx): RouteDef[] {
  return [
    adminRoute({
      method: "GET",
      url: "/admin/v1/settlements/runs",
      summary: "Settlement runs, newest first, with their progress (phase, done of total) while they run and how they ended",
      tags: ["Admin: settlement"],
      query: z.strictObject({ ...PageQuery, date: z.string().refine(isIsoDate, "must be a date YYYY-MM-DD").optional(), status: z.enum(STATUSES).optional() }),
      response: listOf(SettlementRunOut),
      handler: async (i) => {
        const page = toPage(await listSettlementRuns(ctx.db, i.query), i.query.limit, (r) => r.run_id);
        return { body: { data: page.data.map(settlementRunToWire), next_cursor: page.next_cursor } };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/settlements/runs/:run_id",
      summary: "One settlement run and its progress",
      tags: ["Admin: settlement"],
      params: z.strictObject({ run_id: z.string().min(1).max(64) }),
      response: SettlementRunOut,
      handler: async (i) => {
        const run = await getSettlementRun(ctx.db, i.params.run_id);
        if (!run) throw notFound("settlement run");
        return { body: settlementRunToWire(run) };
      },
    }),
  ];
}
