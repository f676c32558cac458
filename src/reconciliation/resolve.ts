import type { Kysely } from "kysely";
import { z } from "zod";
import type { Database, ReconciliationExceptionRow } from "../db/index.ts";
import { PaycoreError, invalidRequest, notFound } from "../kernel/errors.ts";
import { postReconciliationAdjustment, type ReconciliationAdjustment } from "../ledger/index.ts";
import { recordAudit, type Operator } from "../operators/index.ts";
import { callChannel, type PaymentDeps } from "../payments/deps.ts";
import type { ProposalKind, Proposals } from "../proposals/index.ts";
import { randomHex } from "../channels/support.ts";
import { isRail } from "../channels/index.ts";
import { queryAndApply, refreshPlatformSide } from "./resolve-auto.ts";
import { loadSettings } from "./settings.ts";

/**
 * Operators' actions on an exception, each with a note and an audit entry:
 *
 * - `accept_network`: adopt the network's figures. The adjustment that brings paycore's books to
 *   the file (receivable and network cost) is posted against the suspense account — money the
 *   network pays that is nobody's yet (a network-only debit, a surplus, a fee difference nets 0).
 *   Only where the network's side is not less than paycore's: a shortfall is a write-off.
 * - `write_off`: the same adjustment where the network pays less than booked; the shortfall goes
 *   to the channel's loss account. From the channel's `write_off_four_eyes_min`, a second
 *   operator must approve (proposal kind `reconciliation.write_off`).
 * - `refund`: return network-only money to the cardholder through the network (a network-only
 *   debit, or a debit paycore holds as failed). Intent committed before the call; repeating the
 *   action resumes with the same network transaction id.
 * - `requery`: ask the network again; a status mismatch it settles is resolved.
 */
export type ExceptionAction = "accept_network" | "refund" | "write_off" | "requery";

export interface ResolveRequest {
  exception_id: string;
  action: ExceptionAction;
  note: string;
  operator: Operator;
  request_id: string;
}

/**
 * What it takes to bring paycore's books to the network's file for one exception: how much the
 * receivable and the network cost move. Null while paycore's record is still processing.
 */
export function truthDelta(e: ReconciliationExceptionRow): { receivable: bigint; cost: bigint } | null {
  const pay = e.record_kind === "pay";
  const network = { settle: e.network_settle ?? 0n, fee: pay ? (e.network_fee ?? 0n) : 0n };
  switch (e.kind) {
    case "network_only":
      return { receivable: network.settle, cost: network.fee };
    case "platform_only": {
      const amount = e.platform_amount ?? 0n;
      const cost = e.platform_fee ?? 0n;
      return pay ? { receivable: -(amount - cost), cost: -cost } : { receivable: amount, cost: 0n };
    }
    case "status_mismatch":
    case "amount_mismatch":
    case "fee_mismatch": {
      // paycore booked nothing for a record that is not succeeded: the whole line is new to it.
      if (e.platform_status === "failed") return { receivable: network.settle, cost: network.fee };
      if (e.platform_status !== "succeeded") return null;
      const amount = e.platform_amount ?? 0n;
      const cost = pay ? (e.platform_fee ?? 0n) : 0n;
      const booked = pay ? amount - cost : -amount;
      return { receivable: network.settle - booked, cost: network.fee - cost };
    }
  }
}

function adjustment(e: ReconciliationExceptionRow, action: "accept_network" | "write_off", at: Date): ReconciliationAdjustment {
  const delta = truthDelta(e);
  if (!delta) throw invalidRequest("action", `${action} does not apply to a ${e.kind} whose record is ${e.platform_status}: requery it`);
  const counter = delta.receivable + delta.cost;
  if (action === "accept_network" && counter < 0n) throw invalidRequest("action", `the network pays ${-counter} fen less than booked: that is a write_off`);
  if (action === "write_off" && counter >= 0n) throw invalidRequest("action", "nothing is short: accept_network books the network's figures");
  return {
    exception_id: e.exception_id, action, channel_id: e.channel_id, settlement_date: e.settlement_date, receivable_delta: delta.receivable,
    cost_delta: delta.cost, counterpart: action === "write_off" ? "loss" : "suspense", at,
  };
}

async function loadOpen(db: Kysely<Database>, exception_id: string, action: ExceptionAction): Promise<ReconciliationExceptionRow> {
  const e = await db.selectFrom("reconciliation_exceptions").selectAll().where("exception_id", "=", exception_id).executeTakeFirst();
  if (!e) throw notFound("reconciliation exception");
  if (e.status === "buffered") throw invalidRequest("exception_id", `still in the near-cut-off buffer until the file of ${e.due_date}`);
  if (e.status === "resolved" && e.resolution !== action) throw invalidRequest("action", `already resolved by ${e.resolution}`);
  const pending = e.pending_action === "write_off" && !(await proposalPending(db, e.proposal_id)) ? null : e.pending_action;
  if (pending && pending !== action) throw invalidRequest("action", `a ${pending} is under way for this exception`);
  return { ...e, pending_action: pending };
}

/** A rejected write-off proposal frees the exception for another action. */
async function proposalPending(db: Kysely<Database>, proposal_id: string | null): Promise<boolean> {
  if (!proposal_id) return false;
  const row = await db.selectFrom("proposals").select("status").where("proposal_id", "=", proposal_id).executeTakeFirst();
  return row?.status === "pending";
}

/** Books an adjustment and resolves the exception, in one transaction, with its audit entry. */
async function bookAndResolve(trx: Kysely<Database>, e: ReconciliationExceptionRow, adj: ReconciliationAdjustment | null, who: { operator_id: string; request_id: string }, note: string, at: Date): Promise<ReconciliationExceptionRow> {
  const locked = await trx.selectFrom("reconciliation_exceptions").selectAll().where("exception_id", "=", e.exception_id).forUpdate().executeTakeFirstOrThrow();
  if (locked.status === "resolved") return locked;
  if (adj) await postReconciliationAdjustment(trx, adj);
  const action = adj?.action ?? "requery";
  const row = await trx
    .updateTable("reconciliation_exceptions")
    .set({ status: "resolved", resolution: action, resolution_note: note, resolved_by: who.operator_id, resolved_at: at, pending_action: null, updated_at: at })
    .where("exception_id", "=", e.exception_id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await recordAudit(trx, { ...who, action: `reconciliation.exception.${action}`, target_type: "reconciliation_exception", target_id: e.exception_id, before: { status: locked.status }, after: { status: "resolved", note, adjustment: adj }, }, at);
  return row;
}

export async function resolveException(deps: PaymentDeps, proposals: Proposals, r: ResolveRequest): Promise<{ exception: ReconciliationExceptionRow; accepted: boolean }> {
  const { db } = deps.ctx;
  const e = await loadOpen(db, r.exception_id, r.action);
  if (e.status === "resolved") return { exception: e, accepted: false };
  // The actions book against a network's receivable and query its payments: nothing of that fits a
  // payout yet. A rail's exceptions are listed and reported; the payouts sweeper settles statuses.
  if (e.payout_id !== null || isRail(e.channel_id)) throw invalidRequest("action", `no actions on a payout rail's exceptions yet (${e.channel_id}): see docs/reconciliation.md`);
  const who = { operator_id: r.operator.operator_id, request_id: r.request_id };
  const at = deps.ctx.clock.now();
  switch (r.action) {
    case "accept_network":
      return { exception: await db.transaction().execute((trx) => bookAndResolve(trx, e, adjustment(e, "accept_network", at), who, r.note, at)), accepted: false };
    case "write_off":
      return writeOff(deps, proposals, e, r, who, at);
    case "refund":
      return refund(deps, e, r, who);
    case "requery":
      return requery(deps, e, r, who);
  }
}

type Who = { operator_id: string; request_id: string };

async function writeOff(deps: PaymentDeps, proposals: Proposals, e: ReconciliationExceptionRow, r: ResolveRequest, who: Who, at: Date) {
  const { db } = deps.ctx;
  const adj = adjustment(e, "write_off", at);
  const settings = await loadSettings(db, e.channel_id);
  const shortfall = -(adj.receivable_delta + adj.cost_delta);
  if (shortfall < settings.write_off_four_eyes_min) {
    return { exception: await db.transaction().execute((trx) => bookAndResolve(trx, e, adj, who, r.note, at)), accepted: false };
  }
  if (e.pending_action === "write_off") return { exception: e, accepted: true };
  const proposal = await proposals.propose({ operator: r.operator, request_id: r.request_id }, WRITE_OFF_KIND, { exception_id: e.exception_id, note: r.note });
  const row = await db
    .updateTable("reconciliation_exceptions")
    .set({ pending_action: "write_off", proposal_id: proposal.proposal_id, updated_at: at })
    .where("exception_id", "=", e.exception_id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return { exception: row, accepted: true };
}

export const WRITE_OFF_KIND = "reconciliation.write_off";

/** The four-eyes half of a large write-off: applied when a second operator approves. */
export function writeOffProposalKind(deps: PaymentDeps): ProposalKind<{ exception_id: string; note: string }> {
  return {
    kind: WRITE_OFF_KIND,
    payload: z.strictObject({ exception_id: z.string().min(1).max(64), note: z.string().min(1).max(500) }),
    target: (p) => ({ target_type: "reconciliation_exception", target_id: p.exception_id }),
    check: async (db, p) => {
      await loadOpen(db, p.exception_id, "write_off");
    },
    describe: (p) => ({ exception_id: p.exception_id, note: p.note }),
    apply: async (trx, p, actor) => {
      const e = await trx.selectFrom("reconciliation_exceptions").selectAll().where("exception_id", "=", p.exception_id).executeTakeFirstOrThrow();
      const at = deps.ctx.clock.now();
      const row = await bookAndResolve(trx, e, adjustment(e, "write_off", at), { operator_id: actor.operator_id, request_id: actor.request_id }, `${p.note} (proposed by ${actor.proposed_by}, approved by ${actor.operator_id})`, at);
      return { exception_id: row.exception_id, status: row.status };
    },
  };
}

async function refund(deps: PaymentDeps, e: ReconciliationExceptionRow, r: ResolveRequest, who: Who) {
  const { db } = deps.ctx;
  const refundable = e.record_kind === "pay" && (e.kind === "network_only" || (e.kind === "status_mismatch" && e.platform_status === "failed"));
  if (!refundable || !e.txn_id || !e.network_txn_id || !e.network_amount) throw invalidRequest("action", `refund returns a network-only debit to the cardholder; this is a ${e.kind}`);
  // Intent first: the refund's transaction id is committed before the network hears of it.
  const txn_id = e.action_txn_id ?? `RC${randomHex(12)}`;
  await db.updateTable("reconciliation_exceptions").set({ pending_action: "refund", action_txn_id: txn_id, updated_at: deps.ctx.clock.now() }).where("exception_id", "=", e.exception_id).execute();
  const result = await callChannel(deps, e.channel_id, (a) =>
    a.refund({ txn_id, order_id: e.exception_id, original_txn_id: e.txn_id!, original_network_txn_id: e.network_txn_id!, amount_fen: e.network_amount! }),
  );
  const at = deps.ctx.clock.now();
  if (result.status === "pending") return { exception: await noteOnly(db, e, `refund ${txn_id} sent; the network has not answered (${result.message}): repeat refund to ask again`, at, "refund"), accepted: true };
  if (result.status === "failed") {
    await db.updateTable("reconciliation_exceptions").set({ pending_action: null, action_txn_id: null }).where("exception_id", "=", e.exception_id).execute();
    throw new PaycoreError("channel_unavailable", `the network refused the refund: ${result.reason} ${result.message}`);
  }
  const delta = truthDelta(e)!;
  const adj: ReconciliationAdjustment = {
    exception_id: e.exception_id, action: "refund", channel_id: e.channel_id, settlement_date: e.settlement_date,
    receivable_delta: delta.receivable - e.network_amount, cost_delta: delta.cost, counterpart: "suspense", at,
  };
  return { exception: await db.transaction().execute((trx) => bookAndResolve(trx, e, adj, who, `${r.note} (network refund ${result.network_txn_id})`, at)), accepted: false };
}

async function requery(deps: PaymentDeps, e: ReconciliationExceptionRow, r: ResolveRequest, who: Who) {
  const { db } = deps.ctx;
  const status = await queryAndApply(deps, e);
  const at = deps.ctx.clock.now();
  const refreshed = e.kind === "status_mismatch" && status === "succeeded" ? await refreshPlatformSide(deps, e) : null;
  const delta = refreshed ? truthDelta(refreshed) : null;
  if (delta && delta.receivable === 0n && delta.cost === 0n) {
    return { exception: await db.transaction().execute((trx) => bookAndResolve(trx, e, null, who, `${r.note} (the network says succeeded)`, at)), accepted: false };
  }
  const row = await noteOnly(db, e, `${r.note} (requery: paycore's record is ${status ?? "absent"})`, at, null);
  await db.transaction().execute((trx) =>
    recordAudit(trx, { ...who, action: "reconciliation.exception.requery", target_type: "reconciliation_exception", target_id: e.exception_id, before: null, after: { note: row.resolution_note } }, at),
  );
  return { exception: row, accepted: false };
}

async function noteOnly(db: Kysely<Database>, e: ReconciliationExceptionRow, note: string, at: Date, pending_action: string | null) {
  return db
    .updateTable("reconciliation_exceptions")
    .set({ resolution_note: note.slice(0, 500), pending_action, updated_at: at })
    .where("exception_id", "=", e.exception_id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

