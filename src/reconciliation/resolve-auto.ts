import { sql } from "kysely";
import type { ReconciliationExceptionRow } from "../db/index.ts";
import { callChannel, type PaymentDeps } from "../payments/deps.ts";
import { applyPaymentOutcome, applyRefundOutcome } from "../payments/outcomes.ts";
import { RECONCILIATION_LIMITS } from "./limits.ts";
import { truthDelta } from "./resolve.ts";
import type { RunKey } from "./match.ts";

/**
 * The one automatic resolution: a status mismatch where paycore's record is still `processing`
 * while the network's file has it succeeded. The truth can be fetched: the network is queried and
 * its answer applied through the payment's (or refund's) state machine — ledger entries and the
 * merchant's notification as for any outcome. Nothing else changes by itself: a record paycore
 * holds as failed while the network took the money waits for an operator (refund).
 *
 * Each exception: one query (no transaction held), then the outcome's own transaction, then one
 * update of the exception.
 */
export async function resolveStatusMismatches(deps: PaymentDeps, key: RunKey): Promise<number> {
  const open = await deps.ctx.db
    .selectFrom("reconciliation_exceptions")
    .selectAll()
    .where("channel_id", "=", key.channel_id)
    .where("settlement_date", "=", key.settlement_date)
    .where("kind", "=", "status_mismatch")
    .where("status", "=", "open")
    .orderBy("exception_id")
    .limit(RECONCILIATION_LIMITS.auto_resolve_max)
    .execute();
  let resolved = 0;
  for (const exception of open) {
    const outcome = await queryAndApply(deps, exception).catch((err: Error) => {
      deps.ctx.log.warn({ exception_id: exception.exception_id, err: err.message }, "status mismatch: query failed");
      return null;
    });
    if (outcome !== "succeeded") continue;
    const refreshed = await refreshPlatformSide(deps, exception);
    const delta = truthDelta(refreshed);
    if (delta && delta.receivable === 0n && delta.cost === 0n) {
      await markResolved(deps, exception, "auto_query", "system", "the network's query says succeeded; the record followed its state machine");
      resolved += 1;
    } else {
      await deps.ctx.db
        .updateTable("reconciliation_exceptions")
        .set({ resolution_note: "succeeded by query, but the network's amount or fee differs from what was booked: accept_network or write_off", updated_at: deps.ctx.clock.now() })
        .where("exception_id", "=", exception.exception_id)
        .execute();
    }
  }
  return resolved;
}

/** Copies paycore's current status, amount and booked cost onto the exception. */
export async function refreshPlatformSide(deps: PaymentDeps, e: ReconciliationExceptionRow): Promise<ReconciliationExceptionRow> {
  const db = deps.ctx.db;
  const side = e.payment_id
    ? await db.selectFrom("payments").select(["status", "amount", "network_cost"]).where("payment_id", "=", e.payment_id).executeTakeFirstOrThrow()
    : await db.selectFrom("refunds").select(["status", "amount", sql<bigint>`0::int8`.as("network_cost")]).where("refund_id", "=", e.refund_id!).executeTakeFirstOrThrow();
  return db
    .updateTable("reconciliation_exceptions")
    .set({ platform_status: side.status, platform_amount: side.amount, platform_fee: side.network_cost, updated_at: deps.ctx.clock.now() })
    .where("exception_id", "=", e.exception_id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Queries the network about the exception's payment or refund and applies the answer; answers paycore's status after it. */
export async function queryAndApply(deps: PaymentDeps, exception: ReconciliationExceptionRow): Promise<string | null> {
  const db = deps.ctx.db;
  if (exception.payment_id) {
    const p = await db.selectFrom("payments").selectAll().where("payment_id", "=", exception.payment_id).executeTakeFirstOrThrow();
    if (p.status !== "processing") return p.status;
    const q = await callChannel(deps, exception.channel_id, (a) => a.query({ txn_id: p.txn_id }));
    if (q.status === "not_found") return p.status;
    return (await applyPaymentOutcome(deps, p, q, "query")).status;
  }
  if (exception.refund_id) {
    const r = await db.selectFrom("refunds").selectAll().where("refund_id", "=", exception.refund_id).executeTakeFirstOrThrow();
    if (r.status !== "processing") return r.status;
    const q = await callChannel(deps, exception.channel_id, (a) => a.query({ txn_id: r.txn_id }));
    if (q.status === "not_found") return r.status;
    return (await applyRefundOutcome(deps, r.refund_id, q, "query")).status;
  }
  return null;
}

export async function markResolved(
  deps: PaymentDeps,
  exception: Pick<ReconciliationExceptionRow, "exception_id">,
  resolution: NonNullable<ReconciliationExceptionRow["resolution"]>,
  by: string,
  note: string,
): Promise<void> {
  const at = deps.ctx.clock.now();
  await deps.ctx.db
    .updateTable("reconciliation_exceptions")
    .set({ status: "resolved", resolution, resolution_note: note, resolved_by: by, resolved_at: at, pending_action: null, updated_at: at })
    .where("exception_id", "=", exception.exception_id)
    .where("status", "<>", "resolved")
    .execute();
}
