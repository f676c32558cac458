import { sql, type Kysely } from "kysely";
import type { Database, MerchantRow } from "../db/index.ts";
import { PaycoreError } from "../kernel/errors.ts";
import { formatYuan } from "../kernel/money.ts";

/** Beijing time (UTC+8, no daylight saving) decides what "today" is for daily limits. */
const BEIJING_OFFSET_MS = 8 * 3_600_000;

export function beijingDayStart(at: Date): Date {
  const local = at.getTime() + BEIJING_OFFSET_MS;
  return new Date(local - (local % 86_400_000) - BEIJING_OFFSET_MS);
}

/**
 * Per card (at this merchant ID) and per merchant ID daily amount and count limits: payments
 * that succeeded or may still succeed today count. Null limits are no limit.
 */
export async function checkDailyLimits(db: Kysely<Database>, merchant: MerchantRow, card_id: string, amount: bigint, now: Date): Promise<void> {
  const since = beijingDayStart(now);
  if (merchant.card_daily_amount !== null || merchant.card_daily_count !== null) {
    const card = await usage(db, merchant.merchant_id, since, card_id);
    if (merchant.card_daily_count !== null && card.count + 1n > BigInt(merchant.card_daily_count)) {
      throw new PaycoreError("limit_exceeded", `this card's daily count limit at this merchant ID (${merchant.card_daily_count}) is reached`);
    }
    if (merchant.card_daily_amount !== null && card.amount + amount > merchant.card_daily_amount) {
      throw new PaycoreError("limit_exceeded", `this card's daily amount limit at this merchant ID (${formatYuan(merchant.card_daily_amount)} yuan) would be exceeded`);
    }
  }
  if (merchant.merchant_daily_amount !== null) {
    const all = await usage(db, merchant.merchant_id, since, null);
    if (all.amount + amount > merchant.merchant_daily_amount) {
      throw new PaycoreError("limit_exceeded", `the merchant ID's daily amount limit (${formatYuan(merchant.merchant_daily_amount)} yuan) would be exceeded`);
    }
  }
}

async function usage(db: Kysely<Database>, merchant_id: string, since: Date, card_id: string | null): Promise<{ count: bigint; amount: bigint }> {
  let q = db
    .selectFrom("payments")
    .select([sql<bigint>`count(*)`.as("count"), sql<bigint>`coalesce(sum(amount), 0)::int8`.as("amount")])
    .where("merchant_id", "=", merchant_id)
    .where("created_at", ">=", since)
    .where("status", "in", ["processing", "succeeded"]);
  if (card_id) q = q.where("card_id", "=", card_id);
  const row = await q.executeTakeFirstOrThrow();
  return { count: row.count, amount: row.amount };
}
