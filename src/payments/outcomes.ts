import type { Kysely } from "kysely";
import type { MoneyResult, QueryResult } from "../channels/types.ts";
import type { Database, PaymentRow, RefundRow } from "../db/index.ts";
import { retireCardAgreement } from "../agreements/store.ts";
import { computePaymentFee } from "../ledger/index.ts";
import { channelCostFen } from "../routing/index.ts";
import { publishOutcome } from "../kernel/observe.ts";
import { releaseFailedPayment } from "../risk/index.ts";
import type { PaymentDeps } from "./deps.ts";
import { awaitInFlight } from "./in-flight.ts";
import { statementTemplate, type StatementTemplate } from "../db/template.ts";
import { emitPaymentFailed, emitPaymentSucceeded, succeedWithEffects, emitRefundFailed, emitRefundSucceeded } from "./effects.ts";
import { assertTransition, nextQueryDelayMs, PAYMENT_TRANSITIONS, REFUND_TRANSITIONS } from "./states.ts";

/** A debit refused for these reasons means the network holds no live agreement for the card. */
const DEAD_AGREEMENT_REASONS: ReadonlySet<string> = new Set(["agreement_not_found", "agreement_inactive"]);
/** The failure code of a payment refused that way; the merchant is answered with this error code. */
export const RESIGN_REQUIRED = "resign_required";

/** How long a recorded intent waits before the sweeper asks the network about it. */
export const INTENT_GRACE_MS = 10_000;
/** After the query schedule is spent: keep asking, slowly, while operators look (alert). */
export const ALERT_QUERY_INTERVAL_MS = 10 * 60_000;

type Answer = MoneyResult | Exclude<QueryResult, { status: "not_found" }>;

/**
 * A message the network refused as a message (signature, format, replay) was not processed as a
 * transaction; but a resend of a transaction it already took can be refused as a replay. Either
 * way the refusal says nothing about the money: the query decides.
 */
function money(result: Answer): Answer {
  if (result.status === "failed" && result.reason === "message_rejected") {
    return { status: "pending", cause: "bad_response", network_code: result.network_code, message: result.message };
  }
  return result;
}

function networkTxnId(result: Answer): string | null {
  return result.status === "succeeded" ? result.network_txn_id : null;
}

/**
 * Records what the network said about a payment. A final outcome is applied once, by one
 * conditional update (`… WHERE status = 'processing' RETURNING …`): a success is that update with
 * the ledger entry and the merchant's event in the same statement (one round trip, one commit); a
 * failure opens a transaction with what it brings. A second report of the outcome (the network's
 * notification racing its synchronous answer, or a duplicate) finds the payment final in a plain
 * read, or the row being applied right now: it then neither waits nor writes (docs/scaling.md).
 *
 * `known` is the payment as the caller last read it; its amount, merchant and channel never change,
 * so the fee can be computed before the transaction.
 */
export async function applyPaymentOutcome(deps: PaymentDeps, known: PaymentRow, answer: Answer, source: "pay" | "query" | "notify"): Promise<PaymentRow> {
  const now = deps.ctx.clock.now();
  const result = money(answer);
  if (known.status !== "processing") return alreadyFinal(deps, known, result, source);
  if (result.status === "pending") {
    const row = await deps.ctx.db
      .updateTable("payments")
      .set(pendingSchedule(known, source, now))
      .where("payment_id", "=", known.payment_id)
      .where("status", "=", "processing")
      .returningAll()
      .executeTakeFirst();
    return row ?? alreadyFinal(deps, await readPayment(deps.ctx.db, known.payment_id), result, source);
  }
  const transition = result.status === "succeeded" ? await successValues(deps, known, result, now) : failureValues(known, result, now);
  // The notification gives way to whoever holds the row; the synchronous answer and the sweeper's
  // query wait for it, so that what they return is the recorded final state.
  const mode = source === "notify" ? "skip_locked" : "wait";
  const applied = transition.status === "succeeded" ? await applySucceeded(deps, known, transition, now, mode) : await applyFinal(deps, known.payment_id, transition, now, mode);
  if (applied) {
    announceFinal("payment", applied, now);
    return applied;
  }
  return alreadyFinal(deps, await readPayment(deps.ctx.db, known.payment_id), result, source);
}

/**
 * The network's notification of a debit's result. A call for the debit in flight in this process
 * records the outcome (in-flight.ts): the notification waits for it and, when it made the payment
 * final, writes and reads nothing. Otherwise the payment is read and the outcome applied.
 */
export async function applyNotifiedPayment(deps: PaymentDeps, channel_id: string, txn_id: string, answer: Answer, in_flight?: PaymentRow | null): Promise<void> {
  const recorded = in_flight ?? (await awaitInFlight(deps.ctx.db, channel_id, txn_id));
  if (recorded && recorded.status !== "processing") {
    alreadyFinal(deps, recorded, money(answer), "notify");
    return;
  }
  const p = await deps.ctx.db.selectFrom("payments").selectAll().where("txn_id", "=", txn_id).where("channel_id", "=", channel_id).executeTakeFirst();
  if (p) await applyPaymentOutcome(deps, p, answer, "notify");
}

/**
 * The payment as this process's in-flight call for it recorded it (null when none is in flight
 * here), and whether an unverified notification of its result says exactly what was recorded: the
 * same success, for the same amount, under the same network transaction id. That id is the
 * network's own, carried only in its signed answer and in this notification: a sender who can
 * match it already knows the outcome. Such a notification can change nothing, so it can be
 * acknowledged without checking its signature (src/api/routes/callbacks.ts); anything else is
 * verified first.
 */
export async function notifiedAsRecorded(deps: PaymentDeps, channel_id: string, txn_id: string, unverified: MoneyResult): Promise<{ same: boolean; recorded: PaymentRow | null }> {
  const recorded = await awaitInFlight(deps.ctx.db, channel_id, txn_id);
  const same =
    recorded !== null &&
    recorded.status === "succeeded" &&
    recorded.channel_id === channel_id &&
    unverified.status === "succeeded" &&
    recorded.network_txn_id !== null &&
    recorded.network_txn_id === unverified.network_txn_id &&
    recorded.amount === unverified.amount_fen;
  return { same, recorded };
}

/** Announced after the commit, by the one call that made the row final (metrics count it once). */
function announceFinal(kind: "payment" | "refund", row: PaymentRow | RefundRow, now: Date): void {
  if (row.status === "processing") return;
  publishOutcome({ kind, channel_id: row.channel_id, status: row.status, created_at: row.created_at, final_at: now });
}

async function readPayment(db: Kysely<Database>, payment_id: string): Promise<PaymentRow> {
  return db.selectFrom("payments").selectAll().where("payment_id", "=", payment_id).executeTakeFirstOrThrow();
}

function alreadyFinal(deps: PaymentDeps, p: PaymentRow, result: Answer, source: string): PaymentRow {
  if ((result.status === "succeeded" && p.status === "failed") || (result.status === "failed" && p.status === "succeeded")) {
    deps.ctx.log.error({ payment_id: p.payment_id, recorded: p.status, network: result.status, source }, "network outcome contradicts the recorded final state: reconciliation must look");
  }
  return p;
}

type FinalValues = Partial<PaymentRow> & { status: "succeeded" | "failed" };

async function successValues(deps: PaymentDeps, p: PaymentRow, result: Extract<Answer, { status: "succeeded" }>, now: Date) {
  assertTransition(PAYMENT_TRANSITIONS, "payment", p.status, "succeeded");
  const fee = await computePaymentFee(deps.ctx.db, p.sub_merchant_id ?? p.merchant_id, p.amount);
  const stated_cost = "fee_fen" in result ? result.fee_fen : null;
  const view = stated_cost === null ? (await deps.channels.views()).find((c) => c.channel_id === p.channel_id) : undefined;
  const estimated = view ? channelCostFen(view, p.amount) : 0n;
  const network_cost = stated_cost ?? (estimated > p.amount ? p.amount : estimated);
  return { status: "succeeded" as const, network_state: "final" as const, fee: fee.fee, network_cost, network_txn_id: networkTxnId(result), succeeded_at: now, next_query_at: null, updated_at: now } satisfies FinalValues;
}

function failureValues(p: PaymentRow, result: Extract<Answer, { status: "failed" }>, now: Date): FinalValues {
  assertTransition(PAYMENT_TRANSITIONS, "payment", "processing", "failed");
  // The network no longer knows the agreement: the card agreement is retired with this failure (applyFinal).
  const dead = DEAD_AGREEMENT_REASONS.has(result.reason) && p.card_agreement_id !== null;
  const failure = dead
    ? { failure_code: RESIGN_REQUIRED, failure_message: `${p.channel_id} no longer knows this agreement (${result.reason}): the cardholder must sign the card again` }
    : { failure_code: result.reason, failure_message: result.message };
  return { status: "failed", network_state: "final", ...failure, failure_message: failure.failure_message.slice(0, 200), failed_at: now, next_query_at: null, updated_at: now };
}

/**
 * The transition itself: one UPDATE guarded by `status = 'processing'`. With `skip_locked` a row
 * another transaction holds is left alone instead of waited for.
 */
function finalUpdate(db: Kysely<Database>, payment_id: string, values: FinalValues, mode: "wait" | "skip_locked") {
  const update = db.updateTable("payments").set(values).where("status", "=", "processing");
  return mode === "wait"
    ? update.where("payment_id", "=", payment_id)
    : update.where("payment_id", "=", (eb) => eb.selectFrom("payments").select("payment_id").where("payment_id", "=", payment_id).forNoKeyUpdate().skipLocked());
}

/**
 * A success is one statement that commits by itself: the transition, and only if it changed the
 * row, the journal entry and the merchant's event (effects.ts). Null when nothing changed.
 */
async function applySucceeded(deps: PaymentDeps, known: PaymentRow, values: FinalValues, now: Date, mode: "wait" | "skip_locked"): Promise<PaymentRow | null> {
  const db = deps.ctx.db;
  // successValues made them: every column the template sets is there.
  const v = values as SuccessValues;
  const args = [v.status, v.network_state, v.fee, v.network_cost, v.network_txn_id, v.succeeded_at, v.next_query_at, v.updated_at, known.payment_id];
  return succeedWithEffects(db, { key: mode, template: SUCCESS_UPDATES[mode] as StatementTemplate<readonly unknown[], unknown>, args }, { ...known, ...values }, now);
}

type SuccessValues = Awaited<ReturnType<typeof successValues>>;

/** A success's final update (finalUpdate … RETURNING *), built and compiled once per mode: it runs on every payment. */
const successUpdate = (mode: "wait" | "skip_locked") =>
  statementTemplate(
    9,
    (
      db,
      status: "succeeded",
      network_state: "final",
      fee: bigint,
      network_cost: bigint,
      network_txn_id: string | null,
      succeeded_at: Date,
      next_query_at: null,
      updated_at: Date,
      payment_id: string,
    ) => finalUpdate(db, payment_id, { status, network_state, fee, network_cost, network_txn_id, succeeded_at, next_query_at, updated_at }, mode).returningAll(),
  );
const SUCCESS_UPDATES = { wait: successUpdate("wait"), skip_locked: successUpdate("skip_locked") };

/** A failure, in a transaction with what it brings (the event, the risk release, a dead agreement). Null when nothing changed. */
async function applyFinal(deps: PaymentDeps, payment_id: string, values: FinalValues, now: Date, mode: "wait" | "skip_locked"): Promise<PaymentRow | null> {
  return deps.ctx.db.transaction().execute(async (trx) => {
    const row = await finalUpdate(trx, payment_id, values, mode).returningAll().executeTakeFirst();
    if (!row) return null;
    if (row.status === "succeeded") await emitPaymentSucceeded(trx, row, now);
    else await emitPaymentFailed(trx, row, now);
    // A failed payment's amount no longer counts against the risk rules' amount limits.
    if (row.status === "failed") await releaseFailedPayment(trx, row);
    if (row.failure_code === RESIGN_REQUIRED && row.card_agreement_id) {
      await retireCardAgreement(trx, row.card_agreement_id, row.failure_message ?? "the network no longer knows this agreement", now);
    }
    return row;
  });
}

function pendingSchedule(p: Pick<PaymentRow, "query_attempts">, source: "pay" | "query" | "notify", now: Date) {
  const attempts = source === "query" ? p.query_attempts + 1 : p.query_attempts;
  const delay = nextQueryDelayMs(attempts);
  return {
    network_state: "sent" as const,
    query_attempts: attempts,
    next_query_at: new Date(now.getTime() + (delay ?? ALERT_QUERY_INTERVAL_MS)),
    alert: delay === null,
    updated_at: now,
  };
}

/** The same for a refund; a failed refund gives its amount back to what can be refunded. */
export async function applyRefundOutcome(deps: PaymentDeps, refund_id: string, answer: Answer, source: "refund" | "query" | "notify"): Promise<RefundRow> {
  const now = deps.ctx.clock.now();
  const result = money(answer);
  let made_final = false;
  const row = await deps.ctx.db.transaction().execute(async (trx) => {
    const r = await trx.selectFrom("refunds").selectAll().where("refund_id", "=", refund_id).forUpdate().executeTakeFirstOrThrow();
    if (r.status !== "processing") return r;
    const p = await trx.selectFrom("payments").selectAll().where("payment_id", "=", r.payment_id).forUpdate().executeTakeFirstOrThrow();
    switch (result.status) {
      case "succeeded": {
        assertTransition(REFUND_TRANSITIONS, "refund", r.status, "succeeded");
        made_final = true;
        const fee_returned = await emitRefundSucceeded(trx, r, p, now);
        await trx.updateTable("payments").set({ refunded_amount: p.refunded_amount + r.amount, updated_at: now }).where("payment_id", "=", p.payment_id).execute();
        return trx
          .updateTable("refunds")
          .set({ status: "succeeded", network_state: "final", fee_returned, network_txn_id: networkTxnId(result), succeeded_at: now, next_query_at: null, updated_at: now })
          .where("refund_id", "=", refund_id)
          .returningAll()
          .executeTakeFirstOrThrow();
      }
      case "failed": {
        assertTransition(REFUND_TRANSITIONS, "refund", r.status, "failed");
        made_final = true;
        const row = await trx
          .updateTable("refunds")
          .set({ status: "failed", network_state: "final", failure_code: result.reason, failure_message: result.message.slice(0, 200), next_query_at: null, updated_at: now })
          .where("refund_id", "=", refund_id)
          .returningAll()
          .executeTakeFirstOrThrow();
        await emitRefundFailed(trx, row, p, now);
        return row;
      }
      case "pending":
        return trx.updateTable("refunds").set(pendingSchedule(r, source === "refund" ? "pay" : source, now)).where("refund_id", "=", refund_id).returningAll().executeTakeFirstOrThrow();
    }
  });
  if (made_final) announceFinal("refund", row, now);
  return row;
}
