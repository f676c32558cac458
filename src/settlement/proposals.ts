import type { Kysely } from "kysely";
import { z } from "zod";
import type { Ctx } from "../context.ts";
import type { Database } from "../db/index.ts";
import { invalidRequest, notFound } from "../kernel/errors.ts";
import { LEDGER_LIMITS } from "../ledger/limits.ts";
import { recordAudit } from "../operators/index.ts";
import type { ProposalKind } from "../proposals/index.ts";
import { getSettlementHold, releaseSettlementHold } from "./queries.ts";

export const HOLD_RELEASE_KIND = "settlement.hold_release";
export const PAYOUT_OVERRIDE_KIND = "settlement.payout_override";

const HoldRelease = z.strictObject({ merchant_id: z.string().min(1).max(64) });
type HoldRelease = z.infer<typeof HoldRelease>;

/** Releasing a hold lets the next run pay what was held: four eyes. */
export function holdReleaseKind(ctx: Pick<Ctx, "clock">): ProposalKind<HoldRelease> {
  return {
    kind: HOLD_RELEASE_KIND,
    payload: HoldRelease,
    target: (p) => ({ target_type: "merchant", target_id: p.merchant_id }),
    check: async (db, p) => {
      if (!(await getSettlementHold(db, p.merchant_id))) throw notFound("settlement hold");
    },
    describe: (p) => ({ merchant_id: p.merchant_id, release: "settlement hold" }),
    apply: async (trx, p, actor) => {
      const hold = await getSettlementHold(trx, p.merchant_id);
      if (!hold || !(await releaseSettlementHold(trx, p.merchant_id))) throw notFound("settlement hold");
      const audit = { operator_id: actor.operator_id, request_id: actor.request_id, target_type: "merchant", target_id: p.merchant_id };
      await recordAudit(trx, { ...audit, action: "settlement.release", before: { reason: hold.reason }, after: { proposal_id: actor.proposal_id } }, ctx.clock.now());
      return { merchant_id: p.merchant_id, held: false };
    },
  };
}

const PayoutOverride = z.strictObject({ instruction_id: z.string().min(1).max(64) });
type PayoutOverride = z.infer<typeof PayoutOverride>;

/** An instruction that used up its attempts waits for an operator; sending it again needs two. */
async function stuckInstruction(db: Kysely<Database>, instruction_id: string) {
  const row = await db
    .selectFrom("settlement_payouts")
    .select(["instruction_id", "payee_merchant_id", "amount", "status", "attempt_count"])
    .where("instruction_id", "=", instruction_id)
    .executeTakeFirst();
  if (!row) throw notFound("settlement payout instruction");
  if ((row.status !== "created" && row.status !== "pending") || row.attempt_count < LEDGER_LIMITS.payout_attempts_max) {
    throw invalidRequest("instruction_id", `only an open instruction that used up its ${LEDGER_LIMITS.payout_attempts_max} attempts needs an override (this one is ${row.status}, ${row.attempt_count} attempts)`);
  }
  return row;
}

/**
 * Payout execution override: gives an instruction past its attempt limit a fresh set of attempts.
 * The approval changes only the row; the next execution pass (or settlement run) sends it.
 */
export function payoutOverrideKind(ctx: Pick<Ctx, "clock">): ProposalKind<PayoutOverride> {
  return {
    kind: PAYOUT_OVERRIDE_KIND,
    payload: PayoutOverride,
    target: (p) => ({ target_type: "settlement_payout", target_id: p.instruction_id }),
    check: async (db, p) => void (await stuckInstruction(db, p.instruction_id)),
    describe: (p) => ({ instruction_id: p.instruction_id, override: "execute again past the attempt limit" }),
    apply: async (trx, p, actor) => {
      const row = await stuckInstruction(trx, p.instruction_id);
      await trx.updateTable("settlement_payouts").set({ attempt_count: 0, updated_at: ctx.clock.now() }).where("instruction_id", "=", p.instruction_id).execute();
      const audit = { operator_id: actor.operator_id, request_id: actor.request_id, target_type: "settlement_payout", target_id: p.instruction_id };
      await recordAudit(trx, { ...audit, action: "settlement.payout_override", before: { attempt_count: row.attempt_count }, after: { attempt_count: 0, proposal_id: actor.proposal_id } }, ctx.clock.now());
      return { instruction_id: p.instruction_id, payee_merchant_id: row.payee_merchant_id, status: row.status, attempt_count: 0 };
    },
  };
}
