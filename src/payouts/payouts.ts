import type { Kysely } from "kysely";
import type { Database, PayoutRow } from "../db/index.ts";
import { canonicalJson } from "../kernel/canonical-json.ts";
import { PaycoreError, notFound } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import { fen } from "../kernel/money.ts";
import { computePaymentFee, postPayoutReserved, reserveAvailable } from "../ledger/index.ts";
import type { PayoutDeps } from "./deps.ts";
import { PAYOUT_LIMITS } from "./limits.ts";
import { sendPayout } from "./outcomes.ts";
import { routeNow } from "./rails.ts";
import type { PayoutCreateInput } from "./wire.ts";

/**
 * `POST /v1/payouts`, in the crash-safe order: check, price, route, then one transaction that
 * reserves amount + fee from the merchant ID's available balance, records the payout (with its
 * message id when a rail is open) and posts the reservation; after the commit the message goes to
 * the rail, outside any transaction; the outcome is recorded in a transaction of its own. A crash
 * in between leaves a `processing` payout that the sweeper finishes by status query, resending the
 * same message id when the rail never got it (the rail deduplicates by it: one credit).
 *
 * Cost: 3 reads before the transaction (existing, fee product, rail config), then one commit of
 * ~9 statements (balance row lock, insert, journal entry and lines, account updates); it locks the
 * merchant's available-balance row, so one merchant ID's reservations queue while others go on.
 */
export interface PayoutAnswer {
  status: 200 | 201;
  payout: PayoutRow;
}

export async function createPayout(pd: PayoutDeps, merchant_id: string, input: PayoutCreateInput, batch_id: string | null = null, send = true): Promise<PayoutAnswer> {
  const request_hash = pd.ctx.box.fingerprint("request", canonicalJson({ ...input, out_payout_no: undefined }));
  const existing = await findByOutNo(pd.ctx.db, merchant_id, input.out_payout_no);
  if (existing) return repeat(existing, request_hash);
  const amount = fen(input.amount);
  const { fee } = await computePaymentFee(pd.ctx.db, merchant_id, amount, "payout");
  const route = await routeNow(pd, { amount, urgency: input.urgency, payee_bank_code: input.payee.bank_code });
  if (route.kind === "none") throw new PaycoreError("rail_unavailable", route.reason);
  const now = pd.ctx.clock.now();
  const payout_id = newId("po", now.getTime());
  const row: PayoutRow = {
    payout_id, merchant_id, out_payout_no: input.out_payout_no, request_hash, batch_id, amount, fee, currency: "CNY",
    payee_account_name: input.payee.account_name,
    payee_account_number_enc: pd.ctx.box.seal(input.payee.account_number, `payout_payee:${payout_id}`),
    payee_account_last4: input.payee.account_number.slice(-4),
    payee_bank_code: input.payee.bank_code, purpose: input.purpose, urgency: input.urgency,
    status: route.kind === "send" ? "processing" : "queued", rail: route.rail, route_reason: route.reason,
    msg_id: route.kind === "send" ? newId("ntx", now.getTime()) : null,
    failure_code: null, failure_message: null, attempt_count: 0, alert: false,
    next_attempt_at: route.kind === "send" ? new Date(now.getTime() + PAYOUT_LIMITS.query_after_ms) : route.opens_at,
    created_at: now, updated_at: now, succeeded_at: null, returned_at: null, settlement_instruction_id: null,
  };
  const recorded = await recordIntent(pd, row);
  if (!recorded) {
    const other = await findByOutNo(pd.ctx.db, merchant_id, input.out_payout_no);
    if (!other) throw new PaycoreError("internal", "a concurrent payout with this out_payout_no vanished");
    return repeat(other, request_hash);
  }
  if (!send) return { status: 201, payout: row }; // the caller sends it (a batch, after all its lines are recorded)
  if (row.status === "processing") await sendPayout(pd, row);
  return { status: 201, payout: await getPayout(pd.ctx.db, merchant_id, payout_id) };
}

function repeat(existing: PayoutRow, request_hash: string): PayoutAnswer {
  if (existing.request_hash !== request_hash) throw new PaycoreError("duplicate_out_trade_no", "out_payout_no was already used with other parameters");
  return { status: 200, payout: existing };
}

/** The reservation and the record in one transaction; null when a concurrent twin won the insert. */
async function recordIntent(pd: PayoutDeps, row: PayoutRow): Promise<PayoutRow | null> {
  return pd.ctx.db.transaction().execute(async (trx) => {
    if (!(await reserveAvailable(trx, row.merchant_id, row.amount + row.fee))) {
      throw new PaycoreError("insufficient_balance", `available balance does not cover amount ${row.amount} + fee ${row.fee} fen`);
    }
    // Read after the balance row is locked: a hold committed before this payout's reservation
    // stops it. Settlement instructions check their members' holds themselves (settlement/members.ts).
    const hold = await trx.selectFrom("settlement_holds").select("reason").where("merchant_id", "=", row.merchant_id).executeTakeFirst();
    if (hold) throw new PaycoreError("payouts_held", "this merchant ID is under a settlement hold: no payout leaves until an operator releases it");
    const inserted = await trx.insertInto("payouts").values(row).onConflict((oc) => oc.columns(["merchant_id", "out_payout_no"]).doNothing()).returning("payout_id").executeTakeFirst();
    if (!inserted) return null;
    await postPayoutReserved(trx, { payout_id: row.payout_id, merchant_id: row.merchant_id, rail: row.rail!, amount: row.amount, fee: row.fee, at: row.created_at });
    return row;
  });
}

async function findByOutNo(db: Kysely<Database>, merchant_id: string, out_payout_no: string): Promise<PayoutRow | undefined> {
  return db.selectFrom("payouts").selectAll().where("merchant_id", "=", merchant_id).where("out_payout_no", "=", out_payout_no).executeTakeFirst();
}

export async function getPayout(db: Kysely<Database>, merchant_id: string | null, payout_id: string): Promise<PayoutRow> {
  let q = db.selectFrom("payouts").selectAll().where("payout_id", "=", payout_id);
  if (merchant_id !== null) q = q.where("merchant_id", "=", merchant_id);
  const row = await q.executeTakeFirst();
  if (!row) throw notFound("payout");
  return row;
}

export interface PayoutQuery {
  merchant_id?: string | undefined;
  out_payout_no?: string | undefined;
  status?: PayoutRow["status"] | undefined;
  rail?: NonNullable<PayoutRow["rail"]> | undefined;
  batch_id?: string | undefined;
  alert?: "true" | "false" | undefined;
  cursor?: string | undefined;
  limit: number;
}

/** Newest first; the cursor is the last payout id of the previous page. */
export async function listPayouts(db: Kysely<Database>, q: PayoutQuery): Promise<{ data: PayoutRow[]; next_cursor: string | null }> {
  let query = db.selectFrom("payouts").selectAll().orderBy("payout_id", "desc").limit(q.limit + 1);
  if (q.merchant_id) query = query.where("merchant_id", "=", q.merchant_id);
  if (q.out_payout_no) query = query.where("out_payout_no", "=", q.out_payout_no);
  if (q.status) query = query.where("status", "=", q.status);
  if (q.rail) query = query.where("rail", "=", q.rail);
  if (q.batch_id) query = query.where("batch_id", "=", q.batch_id);
  if (q.alert) query = query.where("alert", "=", q.alert === "true");
  if (q.cursor) query = query.where("payout_id", "<", q.cursor);
  const rows = await query.execute();
  const more = rows.length > q.limit;
  const data = rows.slice(0, q.limit);
  return { data, next_cursor: more ? data.at(-1)!.payout_id : null };
}
