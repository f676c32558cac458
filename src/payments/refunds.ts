import { sql, type Kysely } from "kysely";
import type { Database, MerchantRow, RefundRow } from "../db/index.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { canonicalJson } from "../kernel/canonical-json.ts";
import { PaycoreError, notFound } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import { fen, formatYuan } from "../kernel/money.ts";
import { callChannel, type PaymentDeps } from "./deps.ts";
import { applyRefundOutcome, INTENT_GRACE_MS } from "./outcomes.ts";
import { getPayment } from "./payments.ts";
import type { RefundCreateInput } from "./wire.ts";

/**
 * `POST /v1/payments/{id}/refunds`: partial and multiple refunds, to the original card only.
 * The refundable amount is reserved under the payment's row lock when the refund is recorded, so
 * concurrent refunds can never add up to more than the payment; a failed refund releases it.
 */
export async function createRefund(deps: PaymentDeps, merchant: MerchantRow, payment_id: string, input: RefundCreateInput): Promise<{ status: 200 | 201; refund: RefundRow }> {
  const db = deps.ctx.db;
  const request_hash = deps.ctx.box.fingerprint("request", canonicalJson({ payment_id, amount: input.amount, reason: input.reason ?? null }));
  const existing = await findByOutRefundNo(db, merchant.merchant_id, input.out_refund_no);
  if (existing) return { status: 200, refund: sameRequest(existing, request_hash) };
  await getPayment(db, merchant.merchant_id, payment_id);
  const refund = await reserve(deps, merchant, payment_id, input, request_hash).catch(async (err: unknown) => {
    // A concurrent refund with the same out_refund_no on another payment (another row lock) won
    // the unique key: answer as for any repeat, never a 500.
    if (!isUniqueViolation(err, "refunds_merchant_id_out_refund_no_key")) throw err;
    const other = await findByOutRefundNo(db, merchant.merchant_id, input.out_refund_no);
    if (!other) throw err;
    return { row: sameRequest(other, request_hash), created: false };
  });
  if (!refund.created) return { status: 200, refund: refund.row };
  return { status: 201, refund: await sendRefund(deps, refund.row) };
}

async function reserve(deps: PaymentDeps, merchant: MerchantRow, payment_id: string, input: RefundCreateInput, request_hash: string): Promise<{ row: RefundRow; created: boolean }> {
  const now = deps.ctx.clock.now();
  const amount = fen(input.amount);
  return deps.ctx.db.transaction().execute(async (trx) => {
    const p = await trx.selectFrom("payments").selectAll().where("payment_id", "=", payment_id).forUpdate().executeTakeFirstOrThrow();
    const again = await findByOutRefundNo(trx, merchant.merchant_id, input.out_refund_no);
    if (again) return { row: sameRequest(again, request_hash), created: false };
    if (p.status !== "succeeded") throw new PaycoreError("payment_not_refundable", `the payment is ${p.status}: only a succeeded payment can be refunded`);
    const reserved = await reservedAmount(trx, payment_id);
    if (reserved + amount > p.amount) {
      throw new PaycoreError("amount_exceeds_refundable", `at most ${formatYuan(p.amount - reserved)} yuan (${p.amount - reserved} fen) can still be refunded`);
    }
    const row: RefundRow = {
      refund_id: newId("ref", now.getTime()),
      payment_id,
      merchant_id: merchant.merchant_id,
      out_refund_no: input.out_refund_no,
      request_hash,
      amount,
      reason: input.reason ?? null,
      status: "processing",
      network_state: "intent",
      channel_id: p.channel_id!,
      txn_id: newId("ntx", now.getTime()),
      network_txn_id: null,
      failure_code: null,
      failure_message: null,
      fee_returned: null,
      query_attempts: 0,
      next_query_at: new Date(now.getTime() + INTENT_GRACE_MS),
      alert: false,
      created_at: now,
      updated_at: now,
      succeeded_at: null,
    };
    await trx.insertInto("refunds").values(row).execute();
    return { row, created: true };
  });
}

function findByOutRefundNo(db: Kysely<Database>, merchant_id: string, out_refund_no: string): Promise<RefundRow | undefined> {
  return db.selectFrom("refunds").selectAll().where("merchant_id", "=", merchant_id).where("out_refund_no", "=", out_refund_no).executeTakeFirst();
}

/** A repeat of the same out_refund_no is the same refund only with the same payment, amount and reason. */
function sameRequest(existing: RefundRow, request_hash: string): RefundRow {
  if (existing.request_hash !== request_hash) throw new PaycoreError("duplicate_out_refund_no", "out_refund_no was already used with other parameters");
  return existing;
}

/** What refunds that succeeded or may still succeed hold of the payment. */
async function reservedAmount(trx: Kysely<Database>, payment_id: string): Promise<bigint> {
  const row = await trx
    .selectFrom("refunds")
    .select(sql<bigint>`coalesce(sum(amount), 0)::int8`.as("reserved"))
    .where("payment_id", "=", payment_id)
    .where("status", "in", ["processing", "succeeded"])
    .executeTakeFirstOrThrow();
  return row.reserved;
}

export async function sendRefund(deps: PaymentDeps, refund: RefundRow, source: "refund" | "query" = "refund"): Promise<RefundRow> {
  const p = await deps.ctx.db.selectFrom("payments").select(["txn_id", "network_txn_id"]).where("payment_id", "=", refund.payment_id).executeTakeFirstOrThrow();
  const result = await callChannel(deps, refund.channel_id, (a) =>
    a.refund({ txn_id: refund.txn_id, order_id: refund.refund_id, original_txn_id: p.txn_id, original_network_txn_id: p.network_txn_id ?? "", amount_fen: refund.amount }),
  );
  return applyRefundOutcome(deps, refund.refund_id, result, source);
}

export async function getRefund(db: Kysely<Database>, merchant_id: string, refund_id: string): Promise<RefundRow> {
  const row = await db.selectFrom("refunds").selectAll().where("refund_id", "=", refund_id).where("merchant_id", "=", merchant_id).executeTakeFirst();
  if (!row) throw notFound("refund");
  return row;
}
