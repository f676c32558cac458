import { sql, type Kysely } from "kysely";
import type { AgreementRow, Database, PaymentRow, RefundRow } from "../db/index.ts";
import { statementTemplate, type StatementTemplate } from "../db/template.ts";
import { entryArity, entryWithinCtes, paymentSucceededWithin, postPaymentSucceeded, postRefundSucceeded, type EntryShape } from "../ledger/index.ts";
import { enqueueEvent, eventArity, eventWithin, eventWithinCtes } from "../notify/index.ts";
import { assert } from "../kernel/assert.ts";
import { agreementToWire, paymentToWire, refundToWire } from "./wire.ts";

/**
 * What a state change brings with it, in the same database transaction: the ledger entry and the
 * merchant's notification (the outbox). One business event, one entry, one event: both sides are
 * idempotent on the event's key.
 */
export async function emitPaymentSucceeded(trx: Kysely<Database>, p: PaymentRow, at: Date): Promise<void> {
  await postPaymentSucceeded(trx, paymentSucceeded(p, at));
  await enqueueEvent(trx, succeededEvent(p, at));
}

/** The change a success's statement makes first (`upd`): an UPDATE … RETURNING the payment, as a template. */
export interface SuccessChange {
  /** Names the template among the changes (part of the statement's cache key). */
  key: string;
  template: StatementTemplate<readonly unknown[], unknown>;
  args: readonly unknown[];
}

const ONLY_IF_CHANGED = sql`EXISTS (SELECT 1 FROM upd)`;

/**
 * The success's statements, one per shape: which change, whether the entry's accounts must be
 * created if missing, whether the entry has a pending item, whether the event has a first
 * delivery. Each is built and compiled once (src/db/template.ts), so a payment only lays out its
 * arguments; at most a handful of shapes exist.
 */
const SUCCESS_STATEMENTS = new Map<string, StatementTemplate<readonly unknown[], PaymentRow & { entries_written: number }>>();

function successStatement(change: SuccessChange, entry: EntryShape, with_delivery: boolean) {
  const key = `${change.key}/${entry.with_accounts}/${entry.with_item}/${with_delivery}`;
  let t = SUCCESS_STATEMENTS.get(key);
  if (!t) {
    const n_change = change.args.length;
    const n_entry = entryArity(entry);
    const n = n_change + n_entry + eventArity(with_delivery);
    t = statementTemplate<readonly unknown[], PaymentRow & { entries_written: number }>(n, (db, ...args) =>
      sql<PaymentRow & { entries_written: number }>`WITH upd AS (${change.template.fragment(db, ...args.slice(0, n_change))}),
        ${entryWithinCtes(entry, ONLY_IF_CHANGED, args.slice(n_change, n_change + n_entry))},
        ${eventWithinCtes(with_delivery, ONLY_IF_CHANGED, args.slice(n_change + n_entry))}
      SELECT upd.*, (SELECT count(*) FROM e)::int4 AS entries_written FROM upd`,
    );
    SUCCESS_STATEMENTS.set(key, t);
  }
  return t;
}

/**
 * emitPaymentSucceeded as one statement with the change itself: `change` (an UPDATE … RETURNING
 * the payment) makes the payment `p` succeed, and the entry and the event are written only if it
 * returned a row. Answers the row `change` returned, or null when it changed nothing. `p` is the
 * payment as it will be after the change (the event carries it). Runs outside a transaction: the
 * statement commits by itself.
 */
export async function succeedWithEffects(db: Kysely<Database>, change: SuccessChange, p: PaymentRow, at: Date): Promise<PaymentRow | null> {
  assert(!db.isTransaction, "a success's statement commits by itself");
  const entry = await paymentSucceededWithin(db, paymentSucceeded(p, at));
  const event = await eventWithin(db, succeededEvent(p, at));
  const statement = successStatement(change, entry.shape, event.with_delivery);
  const result = await statement.execute(db, ...change.args, ...entry.args, ...event.args);
  const row = result.rows[0];
  if (!row) return null;
  const { entries_written, ...payment } = row;
  // The entry's event key is the payment's: written exactly when the payment became final.
  assert(entries_written === 1, `payment ${p.payment_id} succeeded without its journal entry`);
  entry.written(entries_written);
  return payment as PaymentRow;
}

function paymentSucceeded(p: PaymentRow, at: Date) {
  return {
    payment_id: p.payment_id,
    merchant_id: p.sub_merchant_id ?? p.merchant_id,
    amount: p.amount,
    fee: p.fee ?? 0n,
    channel_id: p.channel_id!,
    network_cost: p.network_cost ?? 0n,
    at,
  };
}

function succeededEvent(p: PaymentRow, at: Date) {
  return { merchant_id: p.merchant_id, type: "payment.succeeded" as const, data: paymentToWire(p), notify_url: p.notify_url, at, dedupe_key: `payment.succeeded:${p.payment_id}` };
}

export async function emitPaymentFailed(trx: Kysely<Database>, p: PaymentRow, at: Date): Promise<void> {
  await enqueueEvent(trx, { merchant_id: p.merchant_id, type: "payment.failed", data: paymentToWire(p), notify_url: p.notify_url, at, dedupe_key: `payment.failed:${p.payment_id}` });
}

/** Posts the refund and answers the fee given back under the merchant's refund fee policy. */
export async function emitRefundSucceeded(trx: Kysely<Database>, r: RefundRow, p: PaymentRow, at: Date): Promise<bigint> {
  const posted = await postRefundSucceeded(trx, { refund_id: r.refund_id, payment_id: r.payment_id, merchant_id: p.sub_merchant_id ?? p.merchant_id, amount: r.amount, channel_id: r.channel_id, at });
  await enqueueEvent(trx, { merchant_id: r.merchant_id, type: "refund.succeeded", data: refundToWire({ ...r, status: "succeeded", succeeded_at: at }), notify_url: p.notify_url, at, dedupe_key: `refund.succeeded:${r.refund_id}` });
  return posted.fee_returned;
}

export async function emitRefundFailed(trx: Kysely<Database>, r: RefundRow, p: PaymentRow, at: Date): Promise<void> {
  await enqueueEvent(trx, { merchant_id: r.merchant_id, type: "refund.failed", data: refundToWire(r), notify_url: p.notify_url, at, dedupe_key: `refund.failed:${r.refund_id}` });
}

async function cardOf(trx: Kysely<Database>, card_id: string) {
  return trx.selectFrom("cards").select(["bank_code", "bank_name", "card_type", "last4"]).where("card_id", "=", card_id).executeTakeFirstOrThrow();
}

export async function emitAgreementSigned(trx: Kysely<Database>, a: AgreementRow, at: Date): Promise<void> {
  await enqueueEvent(trx, { merchant_id: a.merchant_id, type: "agreement.signed", data: agreementToWire(a, await cardOf(trx, a.card_id)), at, dedupe_key: `agreement.signed:${a.agreement_id}` });
}

export async function emitAgreementUnbound(trx: Kysely<Database>, a: AgreementRow, at: Date): Promise<void> {
  await enqueueEvent(trx, { merchant_id: a.merchant_id, type: "agreement.unbound", data: agreementToWire(a, await cardOf(trx, a.card_id)), at, dedupe_key: `agreement.unbound:${a.agreement_id}` });
}
