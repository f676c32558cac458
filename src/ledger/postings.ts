import { sql, type Kysely } from "kysely";
import { cachedConfig, type Database } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { InvariantError } from "../kernel/errors.ts";
import { AMOUNT_FEN_MAX, type Fen } from "../kernel/money.ts";
import { FEE_INCOME, RESERVE_FUNDS, merchantPending, networkCost, networkReceivable } from "./accounts.ts";
import { businessDateAt, businessDateIn, isIsoDate, loadCutoffHistory } from "./business-day.ts";
import { LEDGER_LIMITS } from "./limits.ts";
import { refundFeePolicy, refundFeeReturned } from "./fees.ts";
import { entryWithin, findEntryByEventKey, postEntries, postEntry, type EntryToPost, type EntryWithin, type PostedEntry } from "./journal.ts";

/**
 * What payments, refunds and reconciliation post. Each function runs in the caller's database
 * transaction, together with the state change it records, and is idempotent per business event.
 * docs/ledger.md has the debit/credit table of every posting.
 */

const CHANNEL_ID = /^[a-z][a-z0-9_]{1,63}$/;

function assertAmount(value: Fen, what: string, allow_zero = false): void {
  assert(typeof value === "bigint", `${what} must be bigint fen`);
  assert(allow_zero ? value >= 0n : value > 0n, `${what} must be ${allow_zero ? "non-negative" : "positive"}: ${value}`);
  assert(value <= AMOUNT_FEN_MAX, `${what} too large: ${value}`);
}

async function assertMerchant(trx: Kysely<Database>, merchant_id: string): Promise<void> {
  // Merchant IDs are never deleted: once seen, known (cached configuration).
  const known = await cachedConfig(trx, `merchant_exists:${merchant_id}`, async () => {
    const row = await trx.selectFrom("merchants").select("merchant_id").where("merchant_id", "=", merchant_id).executeTakeFirst();
    return row ? true : undefined;
  });
  assert(known === true, `ledger posting for unknown merchant ${merchant_id}`);
}

export interface PaymentSucceeded {
  payment_id: string;
  /** The merchant ID whose books the payment is in: the sub-merchant's when there is one. */
  merchant_id: string;
  amount: Fen;
  /** From `computePaymentFee`, stored on the payment. */
  fee: Fen;
  channel_id: string;
  /** What the network charges for it (it nets this out of what it pays the reserve account). */
  network_cost: Fen;
  /** When the payment succeeded: decides its business day. */
  at: Date;
}

/** Payment succeeded: the network owes the PI, the merchant ID is owed the amount less its fee. */
export async function postPaymentSucceeded(trx: Kysely<Database>, e: PaymentSucceeded): Promise<PostedEntry> {
  const { spec, extras } = await paymentSucceededPosting(trx, e);
  return postEntry(trx, spec, extras);
}

/**
 * The same entry as parts of the caller's statement on `db` that makes the payment succeed
 * (journal.ts entryWithin, entryWithinCtes).
 */
export async function paymentSucceededWithin(db: Kysely<Database>, e: PaymentSucceeded): Promise<EntryWithin> {
  const { spec, extras } = await paymentSucceededPosting(db, e);
  return entryWithin(db, spec, extras);
}

/**
 * Many succeeded payments in one statement (postEntries): the same entries postPaymentSucceeded
 * makes, each once per payment. At most LEDGER_LIMITS.entries_per_batch_max.
 */
export async function postPaymentsSucceeded(trx: Kysely<Database>, payments: readonly PaymentSucceeded[]): Promise<PostedEntry[]> {
  const max = LEDGER_LIMITS.entries_per_batch_max;
  assert(payments.length >= 1 && payments.length <= max, `a batch holds 1 to ${max} entries: ${payments.length}`);
  for (const e of payments) assertPayment(e);
  // Each merchant ID is looked up once per batch and the cut-off history once, not per payment.
  for (const merchant_id of new Set(payments.map((e) => e.merchant_id))) await assertMerchant(trx, merchant_id);
  const cutoffs = await loadCutoffHistory(trx);
  return postEntries(trx, payments.map((e) => paymentSucceededEntry(e, businessDateIn(cutoffs, e.at))));
}

async function paymentSucceededPosting(trx: Kysely<Database>, e: PaymentSucceeded): Promise<Required<EntryToPost>> {
  assertPayment(e);
  await assertMerchant(trx, e.merchant_id);
  return paymentSucceededEntry(e, await businessDateAt(trx, e.at));
}

function assertPayment(e: PaymentSucceeded): void {
  assertAmount(e.amount, "amount");
  assertAmount(e.fee, "fee", true);
  assertAmount(e.network_cost, "network_cost", true);
  assert(e.fee <= e.amount && e.network_cost <= e.amount, "fee and network cost are at most the amount");
  assert(CHANNEL_ID.test(e.channel_id), `bad channel id ${e.channel_id}`);
}

/** The entry of a checked payment of a known merchant ID, on business day `business_date`. */
function paymentSucceededEntry(e: PaymentSucceeded, business_date: string): Required<EntryToPost> {
  const spec = {
    event_key: `payment_succeeded:${e.payment_id}`,
    event_type: "payment_succeeded" as const,
    reference_id: e.payment_id,
    merchant_id: e.merchant_id,
    channel_id: e.channel_id,
    effective_at: e.at,
    business_date,
    lines: [
      { account: networkReceivable(e.channel_id), side: "debit" as const, amount: e.amount - e.network_cost, line_kind: "payment" },
      { account: networkCost(e.channel_id), side: "debit" as const, amount: e.network_cost, line_kind: "network_cost" },
      { account: merchantPending(e.merchant_id), side: "credit" as const, amount: e.amount, line_kind: "payment" },
      { account: merchantPending(e.merchant_id), side: "debit" as const, amount: e.fee, line_kind: "fee" },
      { account: FEE_INCOME, side: "credit" as const, amount: e.fee, line_kind: "fee" },
    ],
  };
  return { spec, extras: { pending_item: { merchant_id: e.merchant_id, item_kind: "payment", reference_id: e.payment_id, payment_id: e.payment_id, amount: e.amount, fee: e.fee } } };
}

export interface RefundSucceeded {
  refund_id: string;
  payment_id: string;
  merchant_id: string;
  amount: Fen;
  /** Optional: the payment's channel, checked against it. */
  channel_id?: string;
  /** Optional: what the caller expects to be returned, checked against the policy's answer. */
  fee_returned?: Fen;
  at: Date;
}

export interface PostedRefund extends PostedEntry {
  /** The fee given back to the merchant under its refund fee policy (store it on the refund). */
  fee_returned: Fen;
}

/**
 * Refund succeeded: the merchant ID gives the amount back (less the fee returned to it) and the
 * network takes it out of what it owes the PI. The payment must have been posted.
 */
export async function postRefundSucceeded(trx: Kysely<Database>, e: RefundSucceeded): Promise<PostedRefund> {
  assertAmount(e.amount, "amount");
  const event_key = `refund_succeeded:${e.refund_id}`;
  const existing = await findEntryByEventKey(trx, event_key);
  if (existing) return replayedRefund(trx, existing.entry_id, event_key, e);
  // Locking the payment's item serialises refunds of one payment.
  const payment = await trx.selectFrom("pending_items").selectAll().where("payment_id", "=", e.payment_id).where("item_kind", "=", "payment").forUpdate().executeTakeFirst();
  if (!payment) throw new InvariantError(`refund ${e.refund_id}: payment ${e.payment_id} has no ledger entry`);
  assert(payment.merchant_id === e.merchant_id, `refund ${e.refund_id} is for ${e.merchant_id} but the payment is ${payment.merchant_id}'s`);
  const payment_entry = await trx.selectFrom("journal_entries").select("channel_id").where("entry_id", "=", payment.entry_id).executeTakeFirstOrThrow();
  const channel_id = payment_entry.channel_id;
  assert(channel_id !== null, "payment entry without channel");
  if (e.channel_id !== undefined) assert(e.channel_id === channel_id, `refund channel ${e.channel_id} is not the payment's ${channel_id}`);
  const before = await trx
    .selectFrom("pending_items")
    .select(sql<bigint>`coalesce(sum(amount), 0)::int8`.as("refunded"))
    .where("payment_id", "=", e.payment_id)
    .where("item_kind", "=", "refund")
    .executeTakeFirstOrThrow();
  const refunded_before = before.refunded;
  assert(refunded_before + e.amount <= payment.amount, `refunds of ${e.payment_id} would exceed the payment`);
  const policy = await refundFeePolicy(trx, e.merchant_id);
  const fee_returned = refundFeeReturned({ policy, payment_amount: payment.amount, payment_fee: payment.fee, refunded_before, refund_amount: e.amount });
  if (e.fee_returned !== undefined) assert(e.fee_returned === fee_returned, `refund ${e.refund_id}: fee returned ${e.fee_returned}, policy says ${fee_returned}`);
  const business_date = await businessDateAt(trx, e.at);
  const posted = await postEntry(trx, {
    event_key,
    event_type: "refund_succeeded",
    reference_id: e.refund_id,
    merchant_id: e.merchant_id,
    channel_id,
    effective_at: e.at,
    business_date,
    lines: [
      { account: merchantPending(e.merchant_id), side: "debit", amount: e.amount, line_kind: "refund" },
      { account: merchantPending(e.merchant_id), side: "credit", amount: fee_returned, line_kind: "fee_returned" },
      { account: FEE_INCOME, side: "debit", amount: fee_returned, line_kind: "fee_returned" },
      { account: networkReceivable(channel_id), side: "credit", amount: e.amount, line_kind: "refund" },
    ],
  }, { pending_item: { merchant_id: e.merchant_id, item_kind: "refund", reference_id: e.refund_id, payment_id: e.payment_id, amount: e.amount, fee: fee_returned } });
  return { ...posted, fee_returned };
}

async function replayedRefund(trx: Kysely<Database>, entry_id: string, event_key: string, e: RefundSucceeded): Promise<PostedRefund> {
  const item = await trx.selectFrom("pending_items").selectAll().where("entry_id", "=", entry_id).executeTakeFirstOrThrow();
  if (item.amount !== e.amount || item.payment_id !== e.payment_id || item.merchant_id !== e.merchant_id) {
    throw new InvariantError(`event ${event_key} was already posted with other amounts`);
  }
  return { entry_id, event_key, replayed: true, fee_returned: item.fee };
}

export interface NetworkSettled {
  channel_id: string;
  /** The network's settlement date (its statement's date). */
  settlement_date: string;
  /** Positive: the network paid the reserve funds account; negative: the PI paid the network. */
  amount: Fen;
  /** Distinguishes several settlements of one channel and date (default 1). */
  batch_no?: number;
  at: Date;
}

/** The network settled with the PI: money moves between what it owes and the reserve funds account. */
export async function postNetworkSettled(trx: Kysely<Database>, e: NetworkSettled): Promise<PostedEntry> {
  assert(CHANNEL_ID.test(e.channel_id), `bad channel id ${e.channel_id}`);
  assert(isIsoDate(e.settlement_date), `bad settlement date ${e.settlement_date}`);
  assert(typeof e.amount === "bigint" && e.amount !== 0n, "network settlement amount must be non-zero bigint fen");
  const batch_no = e.batch_no ?? 1;
  assert(Number.isInteger(batch_no) && batch_no >= 1 && batch_no <= 1_000, "bad batch number");
  const inflow = e.amount > 0n;
  const amount = inflow ? e.amount : -e.amount;
  assertAmount(amount, "amount");
  return postEntry(trx, {
    event_key: `network_settled:${e.channel_id}:${e.settlement_date}:${batch_no}`,
    event_type: "network_settled",
    reference_id: `${e.channel_id}:${e.settlement_date}:${batch_no}`,
    merchant_id: null,
    channel_id: e.channel_id,
    effective_at: e.at,
    business_date: e.settlement_date,
    lines: [
      { account: RESERVE_FUNDS, side: inflow ? "debit" : "credit", amount, line_kind: "network_settlement" },
      { account: networkReceivable(e.channel_id), side: inflow ? "credit" : "debit", amount, line_kind: "network_settlement" },
    ],
  });
}
