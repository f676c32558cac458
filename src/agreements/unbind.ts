import type { Kysely } from "kysely";
import type { AgreementRow, CardAgreementRow, Database, MerchantRow } from "../db/index.ts";
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
  const now = deps.ctx.clock.now();
  const { row, orphaned } = await deps.ctx.db.transaction().execute(async (trx) => {
    const row = await endAgreement(trx, agreement, "unbound by the merchant", now);
    const others = await trx.selectFrom("agreements").select("agreement_id").where("card_id", "=", agreement.card_id).where("status", "=", "active").executeTakeFirst();
    const orphaned = others ? [] : await trx.selectFrom("card_agreements").selectAll().where("card_id", "=", agreement.card_id).where("status", "=", "active").execute();
    return { row, orphaned };
  });
  for (const cag of orphaned) await rescindAtNetwork(deps, cag);
  return row;
}

async function endAgreement(trx: Kysely<Database>, a: AgreementRow, reason: string, now: Date): Promise<AgreementRow> {
  const row = await trx
    .updateTable("agreements")
    .set({ status: "unbound", unbound_at: now, unbound_reason: reason })
    .where("agreement_id", "=", a.agreement_id)
    .where("status", "=", "active")
    .returningAll()
    .executeTakeFirst();
  if (!row) return trx.selectFrom("agreements").selectAll().where("agreement_id", "=", a.agreement_id).executeTakeFirstOrThrow();
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
    const agreements = await trx.selectFrom("agreements").selectAll().where("card_id", "=", cag.card_id).where("status", "=", "active").execute();
    for (const a of agreements) await endAgreement(trx, a, `cancelled at the bank (${channel_id} notice)`, now);
    return { ended: agreements.length };
  });
}
