import { z } from "zod";
import type { Ctx } from "../context.ts";
import type { ProposalKind } from "../proposals/index.ts";
import { applyMerchantPatch, checkMerchantPatch, merchantToWire } from "./merchants.ts";
import { MerchantPatch, type MerchantPatchInput } from "./schemas.ts";

export const SETTLEMENT_CHANGE_KIND = "merchant.settlement_change";

const Payload = z.strictObject({ merchant_id: z.string().min(1).max(64), patch: MerchantPatch });
type Payload = { merchant_id: string; patch: MerchantPatchInput };

/** A patch that touches `settlement` decides where a merchant ID's money goes: four eyes. */
export function needsFourEyes(patch: MerchantPatchInput): boolean {
  return patch.settlement !== undefined;
}

/** The patch as operators see it: the account number only by its last four digits. */
function describe(p: Payload): unknown {
  const account = p.patch.settlement?.account;
  const settlement = p.patch.settlement && {
    ...p.patch.settlement,
    account: account ? { account_name: account.account_name, account_number_last4: account.account_number.slice(-4), bank_code: account.bank_code } : null,
  };
  return { merchant_id: p.merchant_id, patch: { ...p.patch, ...(settlement ? { settlement } : {}) } };
}

/** A merchant patch that changes its settlement (account, mode or cycle) applies on approval. */
export function settlementChangeKind(ctx: Ctx): ProposalKind<Payload> {
  return {
    kind: SETTLEMENT_CHANGE_KIND,
    payload: Payload as z.ZodType<Payload>,
    target: (p) => ({ target_type: "merchant", target_id: p.merchant_id }),
    check: (db, p) => checkMerchantPatch(ctx, db, p.merchant_id, p.patch),
    describe,
    apply: async (trx, p, actor) => {
      const after = await applyMerchantPatch(ctx, trx, p.merchant_id, p.patch, { operator_id: actor.operator_id, request_id: actor.request_id });
      return merchantToWire(after);
    },
  };
}
