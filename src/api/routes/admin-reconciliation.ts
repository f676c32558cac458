import { z } from "zod";
import { toPage } from "../../db/paging.ts";
import { notFound } from "../../kernel/errors.ts";
import { recordAudit } from "../../operators/index.ts";
import type { PaymentDeps } from "../../payments/deps.ts";
import {
  RECONCILED_CHANNELS,
  RECONCILIATION_LIMITS,
  exceptionToWire,
  getReconciliation,
  listAlerts,
  listExceptions,
  listReconciliations,
  listSettings,
  reconciliationViews,
  reportCsv,
  resolveException,
  runReconciliation,
  sandboxSettlementSource,
  updateSettings,
  writeOffProposalKind,
} from "../../reconciliation/index.ts";
import type { Proposals } from "../../proposals/index.ts";
import { ADMIN_ONLY, adminRoute, type RouteDef } from "../route.ts";
import { PageQuery, listOf } from "./common.ts";

const IsoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "YYYY-MM-DD");
const Channel = z.string().min(1).max(32);
const Fen = z.number().int();
const RESULTS = ["matched", "network_only", "platform_only", "amount_mismatch", "status_mismatch", "fee_mismatch"] as const;
const KINDS = ["network_only", "platform_only", "amount_mismatch", "status_mismatch", "fee_mismatch"] as const;

const ReconciliationOut = z.object({
  reconciliation_id: z.string(),
  channel: z.string(),
  date: z.string(),
  status: z.enum(["running", "done"]),
  counts: z.object({ ...Object.fromEntries(RESULTS.map((r) => [r, z.number()])), buffered: z.number() }),
  amounts: z.record(z.string(), z.object({ network: Fen, platform: Fen })),
  line_count: z.number(),
  file_net: Fen,
  run_count: z.number(),
  settled_amount: Fen.nullable(),
  settled_at: z.string().nullable(),
  open_exceptions: z.number(),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  progress: z
    .object({
      phase: z.string().nullable().describe("loading (lines streaming in) | matching | resolving | settling | done | failed; null for a run recorded before progress was"),
      done: z.number().int().describe("Lines loaded (loading) or lines of the file (later phases)"),
      total: z.number().int().nullable().describe("Null while the file streams in (its length is not known before its last line)"),
      updated_at: z.string().nullable(),
    })
    .describe("The current or last attempt, written by whichever process runs it"),
  error: z.string().nullable().describe("What stopped the last attempt; running the day again takes it over"),
});

const ExceptionOut = z.object({
  exception_id: z.string(),
  kind: z.enum(KINDS),
  channel: z.string(),
  date: z.string(),
  payment_id: z.string().nullable(),
  refund_id: z.string().nullable(),
  payout_id: z.string().nullable(),
  network_txn_id: z.string().nullable(),
  platform_amount: Fen.nullable(),
  network_amount: Fen.nullable(),
  platform_fee: Fen.nullable(),
  network_fee: Fen.nullable(),
  platform_status: z.string().nullable(),
  status: z.enum(["buffered", "open", "resolved"]),
  due_date: z.string().nullable(),
  resolution: z.string().nullable(),
  resolution_note: z.string().nullable(),
  resolved_by: z.string().nullable(),
  resolved_at: z.string().nullable(),
  pending_action: z.string().nullable(),
  proposal_id: z.string().nullable(),
  reconciliation_id: z.string(),
  created_at: z.string(),
});

const SettingsOut = z.object({
  channel_id: z.string(),
  enabled: z.boolean(),
  cutoff_minutes: z.number(),
  file_ready_minutes: z.number(),
  file_late_minutes: z.number(),
  near_cutoff_minutes: z.number(),
  buffer_business_days: z.number(),
  write_off_four_eyes_min: Fen,
});

/** Operators' reconciliation: runs, reports, the exception queue and its actions, alerts, settings. */
export function adminReconciliationRoutes(deps: PaymentDeps, proposals: Proposals): RouteDef[] {
  const { ctx } = deps;
  proposals.register(writeOffProposalKind(deps));
  const settlement_source = deps.sandbox_url ? sandboxSettlementSource(deps.sandbox_url) : null;
  return [
    adminRoute({
      method: "POST",
      url: "/admin/v1/reconciliations",
      summary: "Fetch a channel's statement file for a day and match it; running it again gives the same result",
      tags: ["Admin: reconciliation"],
      body: z.strictObject({ channel: Channel, date: IsoDate }),
      response: ReconciliationOut,
      success_status: 201,
      handler: async (i) => {
        const { run, created } = await runReconciliation(deps, { channel_id: i.body.channel, date: i.body.date, settlement_source });
        await ctx.db.transaction().execute((trx) =>
          recordAudit(trx, { operator_id: i.operator.operator_id, request_id: i.request_id, action: "reconciliation.run", target_type: "reconciliation", target_id: run.reconciliation_id, before: null, after: { channel: run.channel_id, date: run.settlement_date, run_count: run.run_count } }, ctx.clock.now()),
        );
        const [v] = await reconciliationViews(ctx.db, [run]);
        return { status: created ? 201 : 200, body: v };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/reconciliations",
      summary: "Reconciliation runs, newest first: counts and amounts per result (the daily report)",
      tags: ["Admin: reconciliation"],
      query: z.strictObject({ ...PageQuery, channel: Channel.optional(), date: IsoDate.optional() }),
      response: listOf(ReconciliationOut),
      handler: async (i) => {
        const page = toPage(await listReconciliations(ctx.db, i.query), i.query.limit, (r) => r.reconciliation_id);
        return { body: { data: await reconciliationViews(ctx.db, page.data), next_cursor: page.next_cursor } };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/reconciliations/:reconciliation_id",
      summary: "One reconciliation run",
      tags: ["Admin: reconciliation"],
      params: z.strictObject({ reconciliation_id: z.string().min(1).max(64) }),
      response: ReconciliationOut,
      handler: async (i) => {
        const run = await getReconciliation(ctx.db, i.params.reconciliation_id);
        if (!run) throw notFound("reconciliation");
        return { body: (await reconciliationViews(ctx.db, [run]))[0] };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/reconciliations/:reconciliation_id/report.csv",
      summary: "A channel and day's report as CSV: counts and amounts per result, then every exception",
      tags: ["Admin: reconciliation"],
      params: z.strictObject({ reconciliation_id: z.string().min(1).max(64) }),
      produces: "text/csv",
      handler: async (i) => {
        const run = await getReconciliation(ctx.db, i.params.reconciliation_id);
        if (!run) throw notFound("reconciliation");
        return { body: await reportCsv(ctx.db, run), content_type: "text/csv; charset=utf-8" };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/reconciliation-exceptions",
      summary: "The exception queue, newest first (buffered platform-only records only with status=buffered)",
      tags: ["Admin: reconciliation"],
      query: z.strictObject({ ...PageQuery, status: z.enum(["open", "resolved", "buffered"]).optional(), kind: z.enum(KINDS).optional(), channel: Channel.optional(), date: IsoDate.optional() }),
      response: listOf(ExceptionOut),
      handler: async (i) => {
        const page = toPage(await listExceptions(ctx.db, i.query), i.query.limit, (e) => e.exception_id);
        return { body: { data: page.data.map(exceptionToWire), next_cursor: page.next_cursor } };
      },
    }),
    adminRoute({
      method: "POST",
      url: "/admin/v1/reconciliation-exceptions/:exception_id/resolve",
      summary: "Resolve an exception: accept_network, refund, write_off (four eyes above the channel's threshold) or requery, with a note",
      tags: ["Admin: reconciliation"],
      params: z.strictObject({ exception_id: z.string().min(1).max(64) }),
      body: z.strictObject({ action: z.enum(["accept_network", "refund", "write_off", "requery"]), note: z.string().trim().min(1).max(RECONCILIATION_LIMITS.note_chars_max) }),
      response: ExceptionOut,
      handler: async (i) => {
        const outcome = await resolveException(deps, proposals, { exception_id: i.params.exception_id, action: i.body.action, note: i.body.note, operator: i.operator, request_id: i.request_id });
        return { status: outcome.accepted ? 202 : 200, body: exceptionToWire(outcome.exception) };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/reconciliation-alerts",
      summary: "Files missing, late or refused, and settlements that do not match their file",
      tags: ["Admin: reconciliation"],
      query: z.strictObject({ ...PageQuery, channel: Channel.optional(), date: IsoDate.optional() }),
      handler: async (i) => {
        const page = toPage(await listAlerts(ctx.db, { channel_id: i.query.channel, date: i.query.date, cursor: i.query.cursor, limit: i.query.limit }), i.query.limit, (a) => a.alert_id);
        return {
          body: {
            data: page.data.map((a) => ({ alert_id: a.alert_id, channel: a.channel_id, date: a.settlement_date, kind: a.kind, message: a.message, occurrences: a.occurrences, created_at: a.created_at.toISOString(), updated_at: a.updated_at.toISOString() })),
            next_cursor: page.next_cursor,
          },
        };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/reconciliation-settings",
      summary: "Per channel: cut-off, when its file is due and late, the near-cut-off buffer, the four-eyes write-off threshold",
      tags: ["Admin: reconciliation"],
      response: z.object({ data: z.array(SettingsOut) }),
      handler: async () => ({ body: { data: await listSettings(ctx.db) } }),
    }),
    adminRoute({
      method: "PATCH",
      url: "/admin/v1/reconciliation-settings/:channel_id",
      summary: "Change a channel's reconciliation settings",
      tags: ["Admin: reconciliation"],
      roles: ADMIN_ONLY,
      params: z.strictObject({ channel_id: z.enum(RECONCILED_CHANNELS as [string, ...string[]]) }),
      body: z.strictObject({
        enabled: z.boolean().optional(),
        cutoff_minutes: z.number().int().min(0).max(1439).optional(),
        file_ready_minutes: z.number().int().min(0).max(2880).optional(),
        file_late_minutes: z.number().int().min(1).max(2880).optional(),
        near_cutoff_minutes: z.number().int().min(0).max(720).optional(),
        buffer_business_days: z.number().int().min(0).max(10).optional(),
        write_off_four_eyes_min: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
      }),
      response: SettingsOut,
      handler: async (i) => {
        const { write_off_four_eyes_min, ...rest } = i.body;
        const patch = { ...rest, ...(write_off_four_eyes_min !== undefined ? { write_off_four_eyes_min: BigInt(write_off_four_eyes_min) } : {}) };
        const before = (await listSettings(ctx.db)).find((s) => s.channel_id === i.params.channel_id);
        const after = await ctx.db.transaction().execute(async (trx) => {
          const next = await updateSettings(trx, i.params.channel_id, patch, ctx.clock.now());
          await recordAudit(trx, { operator_id: i.operator.operator_id, request_id: i.request_id, action: "reconciliation.settings.update", target_type: "channel", target_id: i.params.channel_id, before, after: next }, ctx.clock.now());
          return next;
        });
        return { body: after };
      },
    }),
  ];
}
