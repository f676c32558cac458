import type { Kysely } from "kysely";
import type { Database } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import type { Fen } from "../kernel/money.ts";
import { merchantAvailable, merchantPending } from "./accounts.ts";
import { postEntry, type PostedEntry } from "./journal.ts";

/**
 * Postings of the settlement run (docs/ledger.md). Its payouts post as payouts do
 * (payout-postings.ts), split over the group's members.
 */

export interface SettlementMatured {
  settlement_id: string;
  merchant_id: string;
  settlement_date: string;
  /** The settlement's positive net: matured pending money becoming available. */
  amount: Fen;
  at: Date;
}

export async function postSettlementMatured(trx: Kysely<Database>, e: SettlementMatured): Promise<PostedEntry> {
  assert(e.amount > 0n, "only a positive net matures into the available balance");
  return postEntry(trx, {
    event_key: `settlement_matured:${e.settlement_id}`,
    event_type: "settlement_matured",
    reference_id: e.settlement_id,
    merchant_id: e.merchant_id,
    channel_id: null,
    effective_at: e.at,
    business_date: e.settlement_date,
    lines: [
      { account: merchantPending(e.merchant_id), side: "debit", amount: e.amount, line_kind: "settlement" },
      { account: merchantAvailable(e.merchant_id), side: "credit", amount: e.amount, line_kind: "settlement" },
    ],
  });
}

/** A settlement group member's part of a settlement payout (docs/ledger.md, "Settlement payouts"). */
export interface PayoutMember {
  merchant_id: string;
  amount: Fen;
}
