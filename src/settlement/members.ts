import type { Kysely } from "kysely";
import type { Database, MerchantRow } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { LEDGER_LIMITS } from "../ledger/index.ts";
import { effectiveStatus } from "../merchants/index.ts";

/**
 * A settlement group: the merchant ID that owns the settlement account (the payee) and the
 * merchant IDs whose money goes to it: itself, and its sub-merchants in mode `parent`. Each
 * member keeps its own books; only the transfer is shared.
 */
export interface GroupMember {
  row: MerchantRow;
  /** Suspended (itself or its parent) or under a settlement hold: settled, not paid. */
  held: boolean;
}

export interface SettlementGroup {
  payee: MerchantRow;
  members: GroupMember[];
}

/**
 * Reads the group inside the run's group transaction. The payee's row (its settlement account) and
 * the members' rows (their settlement mode) are read FOR SHARE: an approved settlement change
 * (an UPDATE of the row) then waits until the group's payout instruction is committed, and a run
 * that starts after the change reads the new account. Without the lock a change committed between
 * this read and the instruction made an instruction pay an account that had already been replaced.
 */
export async function loadGroup(trx: Kysely<Database>, payee_merchant_id: string): Promise<SettlementGroup | null> {
  const payee = await trx.selectFrom("merchants").selectAll().where("merchant_id", "=", payee_merchant_id).forShare().executeTakeFirst();
  if (!payee || payee.settlement_mode !== "own") return null;
  const subs = await trx
    .selectFrom("merchants")
    .selectAll()
    .where("parent_merchant_id", "=", payee_merchant_id)
    .where("settlement_mode", "=", "parent")
    .orderBy("merchant_id")
    .limit(LEDGER_LIMITS.group_members_max)
    .forShare()
    .execute();
  assert(subs.length < LEDGER_LIMITS.group_members_max, `group ${payee_merchant_id} has too many members`);
  const rows = [payee, ...subs];
  const holds = await trx.selectFrom("settlement_holds").select("merchant_id").where("merchant_id", "in", rows.map((r) => r.merchant_id)).execute();
  const on_hold = new Set(holds.map((h) => h.merchant_id));
  const members: GroupMember[] = [];
  for (const row of rows) {
    const suspended = (await effectiveStatus(trx, row)) === "suspended";
    // A hold on the group's account holder holds every member's payout.
    members.push({ row, held: suspended || on_hold.has(row.merchant_id) || on_hold.has(payee.merchant_id) });
  }
  return { payee, members };
}

/** Merchant IDs that own a settlement account, a page at a time, in id order. */
export async function payeePage(db: Kysely<Database>, after: string | null, limit: number): Promise<string[]> {
  let q = db.selectFrom("merchants").select("merchant_id").where("settlement_mode", "=", "own").orderBy("merchant_id").limit(limit);
  if (after) q = q.where("merchant_id", ">", after);
  return (await q.execute()).map((r) => r.merchant_id);
}

export async function payeeCount(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom("merchants").select((eb) => eb.fn.countAll<bigint>().as("n")).where("settlement_mode", "=", "own").executeTakeFirstOrThrow();
  return Number(row.n);
}
