import { sql, type Kysely } from "kysely";
import type { Database, DepositRow } from "../db/index.ts";
import type { CreditNotice } from "../kernel/cnaps/iso20022.ts";
import { newId } from "../kernel/ids.ts";
import { postDepositCredited, postDepositReceived, postDepositReturned } from "../ledger/index.ts";
import { enqueueEvent } from "../notify/index.ts";
import type { PayoutDeps } from "./deps.ts";
import { PAYOUT_LIMITS } from "./limits.ts";
import { depositToWire } from "./wire.ts";

/**
 * Deposits: an entity tops up a merchant ID by a bank transfer into the reserve account. The
 * money is the merchant ID's only when the payer account's name is the entity's legal name
 * (票款一致: whoever pays must be whoever the money is for); otherwise, or when the transfer names
 * no merchant ID paycore knows, it is held apart and sent back to the payer. Both ways are
 * journal entries. One deposit per rail entry reference, however often the notice comes.
 */
export async function receiveDeposit(pd: PayoutDeps, notice: CreditNotice): Promise<DepositRow> {
  const now = pd.ctx.clock.now();
  const deposit = await pd.ctx.db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom("deposits").selectAll().where("entry_ref", "=", notice.entry_ref).executeTakeFirst();
    if (existing) return existing;
    const owner = await ownerOf(trx, notice.remittance.trim());
    const deposit_id = newId("dep", now.getTime());
    const matches = owner !== null && sameName(owner.legal_name, notice.debtor.name);
    const row: DepositRow = {
      deposit_id, entry_ref: notice.entry_ref, merchant_id: owner?.merchant_id ?? null, amount: notice.amount,
      payer_account_name: notice.debtor.name, payer_account_number_enc: pd.ctx.box.seal(notice.debtor.account, `deposit_payer:${deposit_id}`),
      payer_account_last4: notice.debtor.account.slice(-4), payer_bank_code: notice.debtor.agent,
      status: matches ? "credited" : "returning", failure_code: matches ? null : owner ? "payer_name_mismatch" : "unknown_merchant",
      return_msg_id: matches ? null : newId("ntx", now.getTime()), next_attempt_at: matches ? null : now, created_at: now, updated_at: now, returned_at: null,
    };
    const inserted = await trx.insertInto("deposits").values(row).onConflict((oc) => oc.column("entry_ref").doNothing()).returning("deposit_id").executeTakeFirst();
    if (!inserted) return trx.selectFrom("deposits").selectAll().where("entry_ref", "=", notice.entry_ref).executeTakeFirstOrThrow();
    const posting = { deposit_id, merchant_id: row.merchant_id, amount: row.amount, at: now };
    if (matches) {
      await postDepositCredited(trx, { ...posting, merchant_id: owner.merchant_id });
      await enqueueEvent(trx, { merchant_id: owner.merchant_id, type: "deposit.credited", data: depositToWire(row), at: now, dedupe_key: `deposit.credited:${deposit_id}` });
    } else {
      await postDepositReceived(trx, posting);
    }
    return row;
  });
  if (deposit.status === "returning") await sendDepositReturn(pd, deposit);
  return deposit;
}

/** Legal names compare after trimming and with full-width brackets as half-width (a common variance in bank records). */
function sameName(legal_name: string, payer_name: string): boolean {
  const norm = (s: string) => s.trim().replace(/（/g, "(").replace(/）/g, ")");
  return norm(legal_name) === norm(payer_name);
}

async function ownerOf(trx: Kysely<Database>, merchant_id: string): Promise<{ merchant_id: string; legal_name: string } | null> {
  const row = await trx
    .selectFrom("merchants as m")
    .innerJoin("entities as e", "e.entity_id", "m.entity_id")
    .select(["m.merchant_id", "e.legal_name"])
    .where("m.merchant_id", "=", merchant_id)
    .executeTakeFirst();
  return row ?? null;
}

async function sendDepositReturn(pd: PayoutDeps, d: DepositRow): Promise<void> {
  if (!pd.gateway || !d.return_msg_id) return;
  const outcome = await pd.gateway.returnDeposit({ msg_id: d.return_msg_id, entry_ref: d.entry_ref, amount: d.amount, reason: "NAME" }, pd.ctx.clock.now());
  const now = pd.ctx.clock.now();
  await pd.ctx.db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom("deposits").selectAll().where("deposit_id", "=", d.deposit_id).forUpdate().executeTakeFirstOrThrow();
    if (row.status !== "returning") return;
    if (outcome.status !== "succeeded") {
      await trx.updateTable("deposits").set({ next_attempt_at: new Date(now.getTime() + PAYOUT_LIMITS.requeue_after_ms), updated_at: now }).where("deposit_id", "=", d.deposit_id).execute();
      return;
    }
    await postDepositReturned(trx, { deposit_id: row.deposit_id, merchant_id: row.merchant_id, amount: row.amount, at: now });
    await trx.updateTable("deposits").set({ status: "returned", returned_at: now, next_attempt_at: null, updated_at: now }).where("deposit_id", "=", d.deposit_id).execute();
  });
}

export async function retryDepositReturns(pd: PayoutDeps): Promise<void> {
  const now = pd.ctx.clock.now();
  const due = await sql<DepositRow>`
    UPDATE deposits SET next_attempt_at = ${new Date(now.getTime() + PAYOUT_LIMITS.lease_ms)}
    WHERE deposit_id IN (SELECT deposit_id FROM deposits WHERE status = 'returning' AND next_attempt_at <= ${now}
                         ORDER BY next_attempt_at LIMIT ${PAYOUT_LIMITS.sweep_batch_max} FOR UPDATE SKIP LOCKED)
    RETURNING *`.execute(pd.ctx.db);
  for (const d of due.rows) await sendDepositReturn(pd, d);
}

export async function listDeposits(db: Kysely<Database>, q: { merchant_id: string; status?: DepositRow["status"] | undefined; cursor?: string | undefined; limit: number }) {
  let query = db.selectFrom("deposits").selectAll().where("merchant_id", "=", q.merchant_id).orderBy("deposit_id", "desc").limit(q.limit + 1);
  if (q.status) query = query.where("status", "=", q.status);
  if (q.cursor) query = query.where("deposit_id", "<", q.cursor);
  const rows = await query.execute();
  const data = rows.slice(0, q.limit);
  return { data, next_cursor: rows.length > q.limit ? data.at(-1)!.deposit_id : null };
}
