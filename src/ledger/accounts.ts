import type { LedgerAccountKind, LedgerAccountRow } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import type { Fen } from "../kernel/money.ts";

/**
 * The chart of accounts (docs/ledger.md). Every account is one of these kinds; kinds with an
 * owner exist once per merchant ID or per network channel and are created on first use.
 */
export type AccountType = LedgerAccountRow["account_type"];
export type Side = "debit" | "credit";

interface KindSpec {
  type: AccountType;
  owner: "merchant" | "channel" | null;
  /** The name a Chinese finance team uses. */
  name_zh: string;
}

export const ACCOUNT_KINDS: Record<LedgerAccountKind, KindSpec> = {
  reserve_funds: { type: "asset", owner: null, name_zh: "备付金存款" },
  network_receivable: { type: "asset", owner: "channel", name_zh: "应收清算款" },
  network_cost: { type: "expense", owner: "channel", name_zh: "通道成本" },
  fee_income: { type: "income", owner: null, name_zh: "手续费收入" },
  settlement_in_transit: { type: "liability", owner: null, name_zh: "结算在途" },
  merchant_pending: { type: "liability", owner: "merchant", name_zh: "商户待结算" },
  merchant_available: { type: "liability", owner: "merchant", name_zh: "商户可结算" },
  /** Reconciliation differences the PI bears (write-offs), per channel. */
  reconciliation_loss: { type: "expense", owner: "channel", name_zh: "差错损失" },
  /** Money a network pays the PI that is not (yet) anybody's: network-only records, surpluses. */
  reconciliation_suspense: { type: "liability", owner: "channel", name_zh: "待处理长款" },
  payouts_in_transit: { type: "liability", owner: null, name_zh: "付款在途" },
  rail_settlement: { type: "liability", owner: "channel", name_zh: "支付系统清算往来" },
  deposits_unapplied: { type: "liability", owner: null, name_zh: "待处理入金" },
};

/** Assets and expenses grow on the debit side; liabilities and income on the credit side. */
export function normalSide(type: AccountType): Side {
  return type === "asset" || type === "expense" ? "debit" : "credit";
}

export interface AccountRef {
  kind: LedgerAccountKind;
  owner_id: string | null;
}

const OWNER_PATTERN = /^[a-z][a-z0-9_]{1,63}$|^[a-z]{2,4}_[0-9A-Z]{26}$/;

export function accountRef(kind: LedgerAccountKind, owner_id: string | null = null): AccountRef {
  const spec = ACCOUNT_KINDS[kind];
  assert((spec.owner === null) === (owner_id === null), `account kind ${kind} ${spec.owner ? "needs" : "takes no"} owner`);
  if (owner_id !== null) assert(OWNER_PATTERN.test(owner_id), `bad account owner id ${owner_id}`);
  return { kind, owner_id };
}

export function accountCode(ref: AccountRef): string {
  return ref.owner_id === null ? ref.kind : `${ref.kind}:${ref.owner_id}`;
}

export const RESERVE_FUNDS = accountRef("reserve_funds");
export const FEE_INCOME = accountRef("fee_income");
export const SETTLEMENT_IN_TRANSIT = accountRef("settlement_in_transit");
export const merchantPending = (merchant_id: string) => accountRef("merchant_pending", merchant_id);
export const merchantAvailable = (merchant_id: string) => accountRef("merchant_available", merchant_id);
export const networkReceivable = (channel_id: string) => accountRef("network_receivable", channel_id);
export const PAYOUTS_IN_TRANSIT = accountRef("payouts_in_transit");
export const DEPOSITS_UNAPPLIED = accountRef("deposits_unapplied");
export const railSettlement = (rail: string) => accountRef("rail_settlement", rail);
export const networkCost = (channel_id: string) => accountRef("network_cost", channel_id);
export const reconciliationLoss = (channel_id: string) => accountRef("reconciliation_loss", channel_id);
export const reconciliationSuspense = (channel_id: string) => accountRef("reconciliation_suspense", channel_id);

/** An account's balance on its normal side (a liability's balance is credits − debits). */
export function balanceOf(row: Pick<LedgerAccountRow, "account_type" | "debits" | "credits">): Fen {
  return normalSide(row.account_type) === "debit" ? row.debits - row.credits : row.credits - row.debits;
}
