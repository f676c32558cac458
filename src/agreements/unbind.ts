import type { Kysely } from "kysely";
import type { AgreementRow, CardAgreementRow, Database, MerchantRow } from "../db/index.ts";
import type { Clock } from "../kernel/clock.ts";
import { newId } from "../kernel/ids.ts";
import { callChannel, type PaymentDeps } from "../payments/deps.ts";
import { emitAgreementUnbound } from "../payments/effects.ts";
import { getAgreementWithCard } from "./store.ts";

/**
 * A merchant's unbind ends its own agreement; when no merchant ID uses the card any more, the
 * card's agreements with the networks are rescinded too (after the commit, outside it).
 */
export async function unbindByMerchant(deps: PaymentDeps, merchant: MerchantRow, agreement_id: string): Promise<AgreementRow> {
  const { agreement } = await getAgreementWithCard(deps.ctx.db, merchant.merchant_id, agreement_id);
  if (agreement.status === "unbound") return agreement;
  const { row, orphaned } = await deps.ctx.db.transaction().execute(async (trx) => {
    const row = await endAgreement(trx, deps.ctx.clock, agreement.agreement_id, "unbound by the merchant");
    const others = await trx.selectFrom("agreements").select("agreement_id").where("card_id", "=", agreement.card_id).where("status", "=", "active").executeTakeFirst();
    const orphaned = others ? [] : await trx.selectFrom("card_agreements").selectAll().where("card_id", "=", agreement.card_id).where("status", "=", "active").execute();
    return { row, orphaned };
  });
  for (const cag of orphaned) await rescindAtNetwork(deps, cag);
  return row;
}

/**
 * Ends an agreement. The row lock comes first and the time after it: a payment intent recorded
 * before the unbind (it holds the row's share lock until it commits, migration 0610) then always
 * has `created_at` before `unbound_at`, and one recorded after is refused.
 */
async function endAgreement(trx: Kysely<Database>, clock: Clock, agreement_id: string, reason: string): Promise<AgreementRow> {
  const current = await trx.selectFrom("agreements").selectAll().where("agreement_id", "=", agreement_id).forUpdate().executeTakeFirstOrThrow();
  if (current.status !== "active") return current;
  const now = clock.now();
  const row = await trx
    .updateTable("agreements")
    .set({ status: "unbound", unbound_at: now, unbound_reason: reason })
    .where("agreement_id", "=", agreement_id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await emitAgreementUnbound(trx, row, now);
  return row;
}

/** Best effort: a network that does not answer keeps an agreement no merchant can use any more. */
async function rescindAtNetwork(deps: PaymentDeps, cag: CardAgreementRow): Promise<void> {
  const now = deps.ctx.clock.now();
  const result = await callChannel(deps, cag.channel_id, (a) => a.unbind({ txn_id: newId("ntx", now.getTime()), agreement_no: cag.network_agreement_no }));
  if (result.status === "succeeded" || (result.status === "failed" && (result.reason === "agreement_not_found" || result.reason === "agreement_inactive"))) {
    await deps.ctx.db.updateTable("card_agreements").set({ status: "unbound", unbound_at: now, unbound_reason: "rescinded: no merchant uses it" }).where("card_agreement_id", "=", cag.card_agreement_id).where("status", "=", "active").execute();
  } else {
    deps.ctx.log.warn({ card_agreement_id: cag.card_agreement_id, channel_id: cag.channel_id, status: result.status }, "network unbind did not complete; the card agreement stays recorded");
  }
}

/**
 * The network says the cardholder cancelled at the bank: the card agreement ends, and so does
 * every merchant agreement on the card; each merchant gets `agreement.unbound`.
 */
export async function unbindByNetwork(deps: PaymentDeps, channel_id: string, network_agreement_no: string): Promise<{ ended: number }> {
  const now = deps.ctx.clock.now();
  return deps.ctx.db.transaction().execute(async (trx) => {
    const cag = await trx.selectFrom("card_agreements").selectAll().where("channel_id", "=", channel_id).where("network_agreement_no", "=", network_agreement_no).where("status", "=", "active").forUpdate().executeTakeFirst();
    if (!cag) return { ended: 0 };
    await trx.updateTable("card_agreements").set({ status: "unbound", unbound_at: now, unbound_reason: "cancelled by the cardholder at the bank (network notice)" }).where("card_agreement_id", "=", cag.card_agreement_id).execute();
    const agreements = await trx.selectFrom("agreements").select("agreement_id").where("card_id", "=", cag.card_id).where("status", "=", "active").orderBy("agreement_id").execute();
    for (const a of agreements) await endAgreement(trx, deps.ctx.clock, a.agreement_id, `cancelled at the bank (${channel_id} notice)`);
    return { ended: agreements.length };
  });
}
