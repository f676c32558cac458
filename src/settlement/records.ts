import { sql, type Kysely } from "kysely";
import type { Database, MerchantRow, SettlementRow, SettlementStatus } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { newId } from "../kernel/ids.ts";
import type { Fen } from "../kernel/money.ts";
import { dayClosesAt, lastMaturedBusinessDate, postSettlementMatured, type SettlementCalendar } from "../ledger/index.ts";

/**
 * One merchant ID's settlement record for one date: its matured pending items (payments less
 * fees, refunds plus fees returned) and any negative net carried from before.
 */
export type MemberOutcome =
  | { kind: "created"; record: SettlementRow }
  | { kind: "exists" }
  | { kind: "settled_later" }
  | { kind: "not_closed"; closes_at: Date }
  | { kind: "nothing" };

interface ItemTotals {
  item_count: number;
  gross: Fen;
  fees: Fen;
  refunds: Fen;
}

/** Takes the matured unsettled items in one statement, so an item posted meanwhile is never half-counted. */
async function claimItems(trx: Kysely<Database>, merchant_id: string, through: string, settlement_id: string): Promise<ItemTotals> {
  const result = await sql<{ item_count: bigint; gross: bigint; fees: bigint; refunds: bigint }>`
    WITH claimed AS (
      UPDATE pending_items SET settlement_id = ${settlement_id}
       WHERE merchant_id = ${merchant_id} AND settlement_id IS NULL AND business_date <= ${through}
      RETURNING item_kind, amount, fee
    )
    SELECT count(*)::int8 AS item_count,
           coalesce(sum(amount) FILTER (WHERE item_kind = 'payment'), 0)::int8 AS gross,
           coalesce(sum(CASE WHEN item_kind = 'payment' THEN fee ELSE -fee END), 0)::int8 AS fees,
           coalesce(sum(amount) FILTER (WHERE item_kind = 'refund'), 0)::int8 AS refunds
      FROM claimed`.execute(trx);
  const row = result.rows[0];
  assert(row !== undefined, "aggregate returns one row");
  return { item_count: Number(row.item_count), gross: row.gross, fees: row.fees, refunds: row.refunds };
}

/** The negative net the merchant's latest record carried forward, if any. */
export async function carriedIn(trx: Kysely<Database>, merchant_id: string): Promise<Fen> {
  const latest = await trx.selectFrom("settlements").select(["status", "net"]).where("merchant_id", "=", merchant_id).orderBy("settlement_date", "desc").limit(1).executeTakeFirst();
  return latest?.status === "carried_forward" ? latest.net : 0n;
}

function statusFor(net: Fen, held: boolean): SettlementStatus {
  if (net < 0n) return "carried_forward";
  if (net === 0n) return "nothing_to_pay";
  return held ? "held" : "awaiting_payout";
}

export interface MemberRun {
  calendar: SettlementCalendar;
  member: MerchantRow;
  payee_merchant_id: string;
  held: boolean;
  date: string;
  now: Date;
}

export async function settleMember(trx: Kysely<Database>, run: MemberRun): Promise<MemberOutcome> {
  const { member, date, now } = run;
  const merchant_id = member.merchant_id;
  const latest = await trx.selectFrom("settlements").select("settlement_date").where("merchant_id", "=", merchant_id).orderBy("settlement_date", "desc").limit(1).executeTakeFirst();
  if (latest && latest.settlement_date === date) return { kind: "exists" };
  if (latest && latest.settlement_date > date) return { kind: "settled_later" };
  const through = lastMaturedBusinessDate(run.calendar, date, member.settlement_cycle_days);
  const closes_at = dayClosesAt(run.calendar.cutoffs, through);
  if (now.getTime() < closes_at.getTime()) return { kind: "not_closed", closes_at };
  const settlement_id = newId("stl", now.getTime());
  const totals = await claimItems(trx, merchant_id, through, settlement_id);
  if (totals.item_count === 0) return { kind: "nothing" };
  const carried_in = await carriedIn(trx, merchant_id);
  const net = totals.gross - totals.fees - totals.refunds + carried_in;
  const record: SettlementRow = {
    settlement_id,
    merchant_id,
    settlement_date: date,
    payee_merchant_id: run.payee_merchant_id,
    cycle_days: member.settlement_cycle_days,
    covers_through: through,
    ...totals,
    carried_in,
    net,
    status: statusFor(net, run.held),
    payout_instruction_id: null,
    created_at: now,
    updated_at: now,
  };
  await trx.insertInto("settlements").values(record).execute();
  if (net > 0n) await postSettlementMatured(trx, { settlement_id, merchant_id, settlement_date: date, amount: net, at: now });
  return { kind: "created", record };
}
