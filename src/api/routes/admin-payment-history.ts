import { z } from "zod";
import type { Ctx } from "../../context.ts";
import { notFound } from "../../kernel/errors.ts";
import { eventDetailToWire, getEvent } from "../../notify/index.ts";
import { adminRoute, type RouteDef } from "../route.ts";

const Fen = z.number().int();
const Step = z.object({ at: z.string(), what: z.string(), detail: z.string() });

/**
 * One payment's story for the console: its state history (assembled from what paycore stored —
 * the payment and refund rows, the ledger entries, the notifications, the reconciliation lines and
 * exceptions), a summary of what went to and came back from the network, and every notification
 * with its deliveries and attempts. paycore keeps no copy of the network messages themselves (they
 * carry card data), so the summary is of the identifiers, states, failure answers and query
 * counts it kept, and of what the network's statement file said.
 */
export function adminPaymentHistoryRoutes(ctx: Ctx): RouteDef[] {
  const db = ctx.db;
  return [
    adminRoute({
      method: "GET",
      url: "/admin/v1/payments/:payment_id/history",
      summary: "A payment's state history, network messages summary (identifiers, states, failure answers, queries, statement lines) and notification deliveries",
      tags: ["Admin: payments"],
      params: z.strictObject({ payment_id: z.string().min(1).max(64) }),
      response: z.object({
        payment_id: z.string(),
        history: z.array(Step),
        network: z.object({
          channel: z.string().nullable(),
          route_reason: z.string().nullable(),
          txn_id: z.string(),
          network_txn_id: z.string().nullable(),
          network_state: z.string(),
          query_attempts: z.number().int(),
          next_query_at: z.string().nullable(),
          alert: z.boolean(),
          failure_code: z.string().nullable(),
          failure_message: z.string().nullable(),
          refunds: z.array(z.object({ refund_id: z.string(), txn_id: z.string(), network_txn_id: z.string().nullable(), network_state: z.string(), status: z.string(), query_attempts: z.number().int(), failure_code: z.string().nullable() })),
          statement_lines: z.array(z.object({ reconciliation_id: z.string(), date: z.string(), channel: z.string(), kind: z.string(), order_id: z.string(), amount: Fen, fee: Fen })),
          exceptions: z.array(z.object({ exception_id: z.string(), kind: z.string(), status: z.string(), resolution: z.string().nullable() })),
        }),
        events: z.array(z.unknown()),
      }),
      handler: async (i) => {
        const p = await db.selectFrom("payments").selectAll().where("payment_id", "=", i.params.payment_id).executeTakeFirst();
        if (!p) throw notFound("payment");
        const refunds = await db.selectFrom("refunds").selectAll().where("payment_id", "=", p.payment_id).orderBy("refund_id").execute();
        const ids = [p.payment_id, ...refunds.map((r) => r.refund_id)];
        const journal = await db.selectFrom("journal_entries").select(["entry_id", "event_type", "reference_id", "amount", "posted_at"]).where("reference_id", "in", ids).orderBy("posted_at").execute();
        const dedupe = [`payment.succeeded:${p.payment_id}`, `payment.failed:${p.payment_id}`, ...refunds.flatMap((r) => [`refund.succeeded:${r.refund_id}`, `refund.failed:${r.refund_id}`])];
        const eventRows = await db.selectFrom("notify_events").select(["event_id"]).where("merchant_id", "=", p.merchant_id).where("dedupe_key", "in", dedupe).orderBy("event_id").execute();
        const events = await Promise.all(eventRows.map((e) => getEvent(db, e.event_id)));
        const lines = await db
          .selectFrom("reconciliation_lines as l")
          .innerJoin("reconciliations as r", "r.reconciliation_id", "l.reconciliation_id")
          .select(["l.reconciliation_id", "r.settlement_date", "r.channel_id", "r.started_at", "l.kind", "l.order_id", "l.amount", "l.fee"])
          .where("l.order_id", "in", ids)
          .orderBy("l.reconciliation_id")
          .execute();
        const exceptions = await db.selectFrom("reconciliation_exceptions").select(["exception_id", "kind", "status", "resolution", "created_at", "resolved_at"]).where("payment_id", "=", p.payment_id).orderBy("exception_id").execute();

        const steps: { at: Date; what: string; detail: string }[] = [];
        steps.push({ at: p.created_at, what: "created", detail: `processing; routed to ${p.channel_id ?? "—"}${p.route_reason ? ` (${p.route_reason})` : ""}; txn ${p.txn_id}` });
        if (p.succeeded_at) steps.push({ at: p.succeeded_at, what: "succeeded", detail: `network txn ${p.network_txn_id ?? "—"}; fee ${p.fee ?? "—"} fen` });
        if (p.failed_at) steps.push({ at: p.failed_at, what: "failed", detail: `${p.failure_code ?? ""} ${p.failure_message ?? ""}`.trim() });
        if (p.status === "processing") steps.push({ at: p.updated_at, what: "processing", detail: `network state ${p.network_state}; ${p.query_attempts} queries${p.next_query_at ? `; next query ${p.next_query_at.toISOString()}` : ""}${p.alert ? "; ALERT: outcome unknown after the whole query schedule" : ""}` });
        for (const r of refunds) {
          steps.push({ at: r.created_at, what: "refund.created", detail: `${r.refund_id} ${r.amount} fen` });
          if (r.succeeded_at) steps.push({ at: r.succeeded_at, what: "refund.succeeded", detail: r.refund_id });
          else if (r.status === "failed") steps.push({ at: r.updated_at, what: "refund.failed", detail: `${r.refund_id} ${r.failure_code ?? ""}`.trim() });
        }
        for (const j of journal) steps.push({ at: j.posted_at, what: "ledger", detail: `${j.event_type} ${j.amount} fen (${j.reference_id})` });
        for (const e of events) {
          steps.push({ at: e.event.created_at, what: "notify", detail: `${e.event.type} ${e.event.event_id}: ${e.event.status}` });
          if (e.event.delivered_at) steps.push({ at: e.event.delivered_at, what: "notify.delivered", detail: e.event.event_id });
        }
        for (const l of lines) steps.push({ at: l.started_at, what: "statement", detail: `${l.channel_id} ${l.settlement_date}: ${l.kind} ${l.order_id} ${l.amount} fen, fee ${l.fee} fen` });
        for (const x of exceptions) {
          steps.push({ at: x.created_at, what: "reconciliation.exception", detail: `${x.exception_id} ${x.kind}` });
          if (x.resolved_at) steps.push({ at: x.resolved_at, what: "reconciliation.resolved", detail: `${x.exception_id} ${x.resolution ?? ""}`.trim() });
        }
        steps.sort((a, b) => a.at.getTime() - b.at.getTime());

        return {
          body: {
            payment_id: p.payment_id,
            history: steps.map((s) => ({ at: s.at.toISOString(), what: s.what, detail: s.detail })),
            network: {
              channel: p.channel_id,
              route_reason: p.route_reason,
              txn_id: p.txn_id,
              network_txn_id: p.network_txn_id,
              network_state: p.network_state,
              query_attempts: p.query_attempts,
              next_query_at: p.next_query_at?.toISOString() ?? null,
              alert: p.alert,
              failure_code: p.failure_code,
              failure_message: p.failure_message,
              refunds: refunds.map((r) => ({ refund_id: r.refund_id, txn_id: r.txn_id, network_txn_id: r.network_txn_id, network_state: r.network_state, status: r.status, query_attempts: r.query_attempts, failure_code: r.failure_code })),
              statement_lines: lines.map((l) => ({ reconciliation_id: l.reconciliation_id, date: l.settlement_date, channel: l.channel_id, kind: l.kind, order_id: l.order_id, amount: l.amount, fee: l.fee })),
              exceptions: exceptions.map((x) => ({ exception_id: x.exception_id, kind: x.kind, status: x.status, resolution: x.resolution })),
            },
            events: events.map(eventDetailToWire),
          },
        };
      },
    }),
  ];
}
