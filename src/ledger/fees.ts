import type { Kysely } from "kysely";
import { cachedConfig, type Database, type MerchantProductRow } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { PaycoreError } from "../kernel/errors.ts";
import { feeFen, proportionFen, type Fen } from "../kernel/money.ts";

/**
 * Fees. A payment's fee is computed once, when it succeeds, from the merchant ID's product rate
 * (basis points) and minimum, rounded by `feeFen` (half up to the fen, the one rounding place).
 * Network cost is the channel's, booked on its own account so margin per merchant and per network
 * shows. What a refund does to the fee is a policy: give it back in proportion (default) or keep it.
 */
export type Product = MerchantProductRow["product"];

export interface PaymentFee {
  fee: Fen;
  rate_bps: number;
  fee_min: Fen;
  /** The merchant ID whose product priced it (a sub-merchant without the product uses its parent's). */
  priced_by: string;
}

export async function computePaymentFee(db: Kysely<Database>, merchant_id: string, amount: Fen, product: Product = "agreement_pay"): Promise<PaymentFee> {
  assert(typeof amount === "bigint" && amount > 0n, "payment amount must be positive fen");
  const price = await cachedConfig(db, `price:${merchant_id}:${product}`, () => loadPrice(db, merchant_id, product));
  return { fee: feeFen(amount, price.rate_bps, price.fee_min), ...price };
}

/** The product's rate and minimum: the merchant ID's own, else its parent's (cached configuration). */
async function loadPrice(db: Kysely<Database>, merchant_id: string, product: Product): Promise<Omit<PaymentFee, "fee">> {
  const merchant = await db.selectFrom("merchants").select(["merchant_id", "parent_merchant_id"]).where("merchant_id", "=", merchant_id).executeTakeFirst();
  if (!merchant) throw new PaycoreError("not_found", "merchant not found");
  const owners = [merchant.merchant_id, ...(merchant.parent_merchant_id ? [merchant.parent_merchant_id] : [])];
  const rows = await db.selectFrom("merchant_products").selectAll().where("merchant_id", "in", owners).where("product", "=", product).execute();
  for (const owner of owners) {
    const row = rows.find((r) => r.merchant_id === owner);
    if (row) return { rate_bps: row.fee_rate_bps, fee_min: row.fee_min, priced_by: owner };
  }
  throw new PaycoreError("forbidden", `merchant ID has no '${product}' product`);
}

export type RefundFeePolicy = "proportional" | "keep";
export const PLATFORM_SCOPE = "platform";
export const DEFAULT_REFUND_FEE_POLICY: RefundFeePolicy = "proportional";

/** The merchant ID's policy, else the platform's, else proportional. */
export async function refundFeePolicy(db: Kysely<Database>, merchant_id: string): Promise<RefundFeePolicy> {
  const rows = await db.selectFrom("refund_fee_policies").select(["scope", "policy"]).where("scope", "in", [merchant_id, PLATFORM_SCOPE]).execute();
  const own = rows.find((r) => r.scope === merchant_id);
  const platform = rows.find((r) => r.scope === PLATFORM_SCOPE);
  return own?.policy ?? platform?.policy ?? DEFAULT_REFUND_FEE_POLICY;
}

export async function setRefundFeePolicy(db: Kysely<Database>, scope: string, policy: RefundFeePolicy | null, at: Date): Promise<void> {
  if (policy === null) {
    await db.deleteFrom("refund_fee_policies").where("scope", "=", scope).execute();
    return;
  }
  await db
    .insertInto("refund_fee_policies")
    .values({ scope, policy, updated_at: at })
    .onConflict((oc) => oc.column("scope").doUpdateSet({ policy, updated_at: at }))
    .execute();
}

export interface RefundFeeInput {
  policy: RefundFeePolicy;
  payment_amount: Fen;
  payment_fee: Fen;
  /** Refunded before this refund. */
  refunded_before: Fen;
  refund_amount: Fen;
}

/**
 * The fee a refund gives back. Proportional is taken as the difference of two cumulative
 * proportions, so the parts of any sequence of partial refunds add up to exactly the whole fee
 * when the payment is fully refunded, whatever the rounding of each part.
 */
export function refundFeeReturned(input: RefundFeeInput): Fen {
  const { payment_amount, payment_fee, refunded_before, refund_amount } = input;
  assert(payment_amount > 0n && payment_fee >= 0n && payment_fee <= payment_amount, "bad payment amounts");
  assert(refund_amount > 0n && refunded_before >= 0n, "bad refund amounts");
  assert(refunded_before + refund_amount <= payment_amount, "refunds exceed the payment");
  switch (input.policy) {
    case "keep":
      return 0n;
    case "proportional": {
      const after = proportionFen(payment_fee, refunded_before + refund_amount, payment_amount);
      const before = proportionFen(payment_fee, refunded_before, payment_amount);
      return after - before;
    }
  }
}
