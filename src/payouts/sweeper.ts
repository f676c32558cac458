import { sql } from "kysely";
import type { PayoutRow } from "../db/index.ts";
import type { PayoutDeps } from "./deps.ts";
import { retryDepositReturns } from "./deposits.ts";
import { dropRefusedImports, startApprovedImports } from "./imports.ts";
import { PAYOUT_LIMITS } from "./limits.ts";
import { applyRailOutcome, routeAgain, sendPayout } from "./outcomes.ts";

/**
 * Finishes what a request or a crash left: queued payouts whose rail has opened are routed and
 * sent; processing payouts are asked about by status query (same message id), and sent again
 * when the rail never got the message; deposits being returned are retried. Claims are leased
 * (next_attempt_at moves forward under FOR UPDATE SKIP LOCKED), so several processes can sweep.
 * Operator imports a second admin approved are started here too (src/payouts/imports.ts).
 */
export async function sweepPayouts(pd: PayoutDeps): Promise<number> {
  if (!pd.gateway) return 0;
  const due = await claimDue(pd);
  for (const p of due) {
    const work = p.status === "queued" ? routeAgain(pd, p.payout_id) : queryPayout(pd, p);
    await work.catch((err: Error) => pd.ctx.log.warn({ payout_id: p.payout_id, err: err.message }, "payout sweep failed"));
  }
  await retryDepositReturns(pd).catch((err: Error) => pd.ctx.log.warn({ err: err.message }, "deposit return retry failed"));
  await dropRefusedImports(pd).catch((err: Error) => pd.ctx.log.warn({ err: err.message }, "dropping refused payout imports failed"));
  startApprovedImports(pd);
  return due.length;
}

async function claimDue(pd: PayoutDeps): Promise<PayoutRow[]> {
  const now = pd.ctx.clock.now();
  const lease_until = new Date(now.getTime() + PAYOUT_LIMITS.lease_ms);
  const rows = await sql<PayoutRow>`
    UPDATE payouts SET next_attempt_at = ${lease_until}
    WHERE payout_id IN (
      SELECT payout_id FROM payouts
      WHERE status IN ('queued', 'processing') AND next_attempt_at <= ${now}
      ORDER BY next_attempt_at LIMIT ${PAYOUT_LIMITS.sweep_batch_max}
      FOR UPDATE SKIP LOCKED)
    RETURNING *`.execute(pd.ctx.db);
  return rows.rows;
}

export async function queryPayout(pd: PayoutDeps, p: PayoutRow): Promise<void> {
  const answer = await pd.gateway!.query(p.msg_id!, pd.ctx.clock.now());
  if (answer.status === "not_found") {
    await sendPayout(pd, p); // never arrived: the same message id again
    return;
  }
  pd.health.record(p.rail!, answer.status === "pending" ? "error" : "ok", pd.ctx.clock.now().getTime());
  await applyRailOutcome(pd, p.msg_id!, answer);
}
