import type { Kysely } from "kysely";
import type { Database, PayoutRow } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { crashPoint } from "../kernel/crash-point.ts";
import { RAIL_NAMES } from "../kernel/cnaps/hours.ts";
import { REJECT_REASONS } from "../kernel/cnaps/iso20022.ts";
import { newId } from "../kernel/ids.ts";
import { postPayoutReleased, postPayoutReturned, postPayoutSettled } from "../ledger/index.ts";
import { enqueueEvent } from "../notify/index.ts";
import type { PayoutDeps } from "./deps.ts";
import { DUPLICATE_REFUSALS, RAIL_REFUSALS, type RailOutcome } from "./gateway.ts";
import { PAYOUT_LIMITS, queryDelayMs } from "./limits.ts";
import { routeNow } from "./rails.ts";
import { followSettlementPayout, payoutPosting } from "./settlement.ts";
import { checkTransition } from "./states.ts";
import { payoutToWire } from "./wire.ts";

/** Sends a processing payout's message (outside any transaction) and records what the rail said. */
export async function sendPayout(pd: PayoutDeps, row: PayoutRow): Promise<void> {
  assert(row.status === "processing" && row.msg_id && row.rail, "only a processing payout with a message id is sent");
  if (!pd.gateway) return; // no line to the rails in this process: the sweeper of one that has it sends it
  const payee_account = pd.ctx.box.open(row.payee_account_number_enc, `payout_payee:${row.payout_id}`);
  const credit = { msg_id: row.msg_id, end_to_end_id: row.payout_id, rail: row.rail, amount: row.amount, creditor: { name: row.payee_account_name, account: payee_account, agent: row.payee_bank_code }, purpose: row.purpose };
  crashPoint("payout_after_intent");
  const outcome = await pd.gateway.send(credit, pd.ctx.clock.now());
  crashPoint("payout_after_send");
  pd.health.record(row.rail, outcome.status === "pending" ? "error" : "ok", pd.ctx.clock.now().getTime());
  await applyRailOutcome(pd, row.msg_id, outcome);
}

async function notify(trx: Kysely<Database>, p: PayoutRow, type: "payout.succeeded" | "payout.failed" | "payout.returned", at: Date): Promise<void> {
  await enqueueEvent(trx, { merchant_id: p.merchant_id, type, data: payoutToWire(p), at, dedupe_key: `${type}:${p.payout_id}` });
}

/**
 * Records a rail's statement about the message `msg_id`, once: settled, refused by the payee's
 * bank (the reservation goes back), refused by the rail itself (queued for another try), or not
 * final yet (the next status query is scheduled). A refusal as a duplicate (DUPL: the rail already
 * has this message id) is not final: the first message may have settled, so it is recorded as
 * pending and the status query decides. A statement about an older message of the payout, or
 * about a payout already final, changes nothing.
 */
export async function applyRailOutcome(pd: PayoutDeps, msg_id: string, stated: RailOutcome): Promise<PayoutRow | null> {
  const now = pd.ctx.clock.now();
  const outcome: RailOutcome = stated.status === "rejected" && DUPLICATE_REFUSALS.has(stated.code) ? { status: "pending", cause: `the rail already has this message id (${stated.code})` } : stated;
  return pd.ctx.db.transaction().execute(async (trx) => {
    const p = await trx.selectFrom("payouts").selectAll().where("msg_id", "=", msg_id).forUpdate().executeTakeFirst();
    if (!p || p.status !== "processing") return p ?? null;
    let next: PayoutRow;
    switch (outcome.status) {
      case "succeeded":
        next = { ...p, status: "succeeded", succeeded_at: now, next_attempt_at: null, updated_at: now };
        await postPayoutSettled(trx, await payoutPosting(trx, p, now));
        break;
      case "rejected":
        if (RAIL_REFUSALS.has(outcome.code)) {
          const why = REJECT_REASONS[outcome.code as keyof typeof REJECT_REASONS];
          next = { ...p, status: "queued", msg_id: null, route_reason: `${RAIL_NAMES[p.rail!]} refused it (${why}): routing again`, next_attempt_at: new Date(now.getTime() + PAYOUT_LIMITS.requeue_after_ms), updated_at: now };
          break;
        }
        next = { ...p, status: "failed", failure_code: outcome.code, failure_message: REJECT_REASONS[outcome.code as keyof typeof REJECT_REASONS] ?? "refused by the payee's bank", next_attempt_at: null, updated_at: now };
        await postPayoutReleased(trx, await payoutPosting(trx, p, now));
        break;
      case "accepted":
      case "pending":
        next = { ...p, attempt_count: p.attempt_count + 1, next_attempt_at: new Date(now.getTime() + queryDelayMs(p.attempt_count)), updated_at: now };
        if (next.attempt_count >= PAYOUT_LIMITS.alert_after_queries && !p.alert) {
          next.alert = true;
          pd.ctx.log.error({ alert: "payout.unresolved", payout_id: p.payout_id, rail: p.rail, attempts: next.attempt_count }, `payout not final after ${next.attempt_count} status queries (${outcome.status === "pending" ? outcome.cause : "accepted"}): operators must look; paycore keeps asking`);
        }
        break;
    }
    if (next.status !== p.status) checkTransition(p.status, next.status);
    await trx.updateTable("payouts").set(changes(p, next)).where("payout_id", "=", p.payout_id).execute();
    if (next.status === "succeeded") await notify(trx, next, "payout.succeeded", now);
    if (next.status === "failed") await notify(trx, next, "payout.failed", now);
    if (next.status !== p.status) await followSettlementPayout(trx, next, now);
    crashPoint("payout_before_outcome_commit");
    return next;
  });
}

function changes(before: PayoutRow, after: PayoutRow): Partial<PayoutRow> {
  const out: Partial<PayoutRow> = {};
  for (const key of Object.keys(after) as (keyof PayoutRow)[]) if (after[key] !== before[key]) (out as Record<string, unknown>)[key] = after[key];
  return out;
}

/**
 * The payee's bank sent a settled credit back (退汇): the money and the fee return to the
 * merchant ID's available balance. A return for a payout whose success was not recorded yet
 * (the result push was lost) records the success first: the return proves it settled.
 */
export async function applyReturn(pd: PayoutDeps, msg_id: string, reason: string): Promise<PayoutRow | null> {
  const now = pd.ctx.clock.now();
  if ((await pd.ctx.db.selectFrom("payouts").select("status").where("msg_id", "=", msg_id).executeTakeFirst())?.status === "processing") {
    await applyRailOutcome(pd, msg_id, { status: "succeeded", settled_at: now });
  }
  return pd.ctx.db.transaction().execute(async (trx) => {
    const p = await trx.selectFrom("payouts").selectAll().where("msg_id", "=", msg_id).forUpdate().executeTakeFirst();
    if (!p || p.status !== "succeeded") return p ?? null;
    checkTransition(p.status, "returned");
    const next: PayoutRow = { ...p, status: "returned", returned_at: now, failure_code: reason, failure_message: REJECT_REASONS[reason as keyof typeof REJECT_REASONS] ?? "sent back by the payee's bank", updated_at: now };
    await postPayoutReturned(trx, await payoutPosting(trx, p, now));
    await trx.updateTable("payouts").set(changes(p, next)).where("payout_id", "=", p.payout_id).execute();
    await notify(trx, next, "payout.returned", now);
    await followSettlementPayout(trx, next, now);
    return next;
  });
}

/** A queued payout whose time has come: route it again; send it when a rail is open now. */
export async function routeAgain(pd: PayoutDeps, payout_id: string): Promise<void> {
  const now = pd.ctx.clock.now();
  const ready = await pd.ctx.db.transaction().execute(async (trx) => {
    const p = await trx.selectFrom("payouts").selectAll().where("payout_id", "=", payout_id).forUpdate().executeTakeFirst();
    if (!p || p.status !== "queued") return null;
    const route = await routeNow(pd, { amount: p.amount, urgency: p.urgency, payee_bank_code: p.payee_bank_code }, trx);
    if (route.kind !== "send") {
      const next_attempt_at = route.kind === "queue" ? route.opens_at : new Date(now.getTime() + PAYOUT_LIMITS.requeue_after_ms);
      await trx.updateTable("payouts").set({ route_reason: route.reason, ...(route.kind === "queue" ? { rail: route.rail } : {}), next_attempt_at, updated_at: now }).where("payout_id", "=", payout_id).execute();
      return null;
    }
    checkTransition(p.status, "processing");
    const next: PayoutRow = { ...p, status: "processing", rail: route.rail, route_reason: route.reason, msg_id: newId("ntx", now.getTime()), attempt_count: 0, alert: false, next_attempt_at: new Date(now.getTime() + PAYOUT_LIMITS.query_after_ms), updated_at: now };
    await trx.updateTable("payouts").set(changes(p, next)).where("payout_id", "=", payout_id).execute();
    return next;
  });
  if (ready) await sendPayout(pd, ready);
}
