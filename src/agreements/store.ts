import { toPage } from "../db/paging.ts";
import type { Kysely } from "kysely";
import type { AgreementRow, CardAgreementRow, CardRow, Database } from "../db/index.ts";
import { notFound } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";

/** Rows of agreements: the merchant's (`agr_…`) and the card's with each network. */

export async function activeCardAgreements(db: Kysely<Database>, card_id: string): Promise<CardAgreementRow[]> {
  return db.selectFrom("card_agreements").selectAll().where("card_id", "=", card_id).where("status", "=", "active").orderBy("created_at").execute();
}

export async function createMerchantAgreement(
  trx: Kysely<Database>,
  a: { merchant_id: string; user_ref: string; card_id: string; sign_request_id: string; now: Date },
): Promise<AgreementRow> {
  const existing = await trx.selectFrom("agreements").selectAll().where("merchant_id", "=", a.merchant_id).where("card_id", "=", a.card_id).where("status", "=", "active").executeTakeFirst();
  if (existing) return existing;
  const row: AgreementRow = {
    agreement_id: newId("agr", a.now.getTime()),
    merchant_id: a.merchant_id,
    user_ref: a.user_ref,
    card_id: a.card_id,
    sign_request_id: a.sign_request_id,
    status: "active",
    created_at: a.now,
    unbound_at: null,
    unbound_reason: null,
  };
  // A concurrent signing of the same card at the same merchant ID may have won the partial unique
  // index since the check: both then hold the one agreement.
  const inserted = await trx
    .insertInto("agreements")
    .values(row)
    .onConflict((oc) => oc.columns(["merchant_id", "card_id"]).where("status", "=", "active").doNothing())
    .returningAll()
    .executeTakeFirst();
  return inserted ?? trx.selectFrom("agreements").selectAll().where("merchant_id", "=", a.merchant_id).where("card_id", "=", a.card_id).where("status", "=", "active").executeTakeFirstOrThrow();
}

/** The card's agreement with a network: one active per card per network; a repeat finds it. */
export async function recordCardAgreement(
  trx: Kysely<Database>,
  a: { card_id: string; channel_id: string; network_agreement_no: string; verified_elements: string | null; origin: "signed" | "synced"; now: Date },
): Promise<CardAgreementRow> {
  const existing = await trx.selectFrom("card_agreements").selectAll().where("card_id", "=", a.card_id).where("channel_id", "=", a.channel_id).where("status", "=", "active").executeTakeFirst();
  if (existing) {
    if (existing.network_agreement_no === a.network_agreement_no) return existing;
    await trx.updateTable("card_agreements").set({ status: "unbound", unbound_at: a.now, unbound_reason: "replaced by a new signing" }).where("card_agreement_id", "=", existing.card_agreement_id).execute();
  }
  const row: CardAgreementRow = {
    card_agreement_id: newId("cag", a.now.getTime()),
    card_id: a.card_id,
    channel_id: a.channel_id,
    network_agreement_no: a.network_agreement_no,
    verified_elements: a.verified_elements,
    origin: a.origin,
    status: "active",
    created_at: a.now,
    unbound_at: null,
    unbound_reason: null,
  };
  // Two payments syncing the card to the same network at once: the first insert wins the partial
  // unique index and the other uses that agreement (the network knows the card under both numbers).
  const inserted = await trx
    .insertInto("card_agreements")
    .values(row)
    .onConflict((oc) => oc.columns(["card_id", "channel_id"]).where("status", "=", "active").doNothing())
    .returningAll()
    .executeTakeFirst();
  return inserted ?? trx.selectFrom("card_agreements").selectAll().where("card_id", "=", a.card_id).where("channel_id", "=", a.channel_id).where("status", "=", "active").executeTakeFirstOrThrow();
}

/**
 * The network no longer knows a card agreement paycore holds (it answered "no such agreement" or
 * "agreement ended" to a debit): retire it, so routing stops using it and a new signing of the
 * card makes a fresh one. The merchant's agreement stays; it pays again once the card is re-signed.
 */
export async function retireCardAgreement(trx: Kysely<Database>, card_agreement_id: string, reason: string, now: Date): Promise<void> {
  await trx
    .updateTable("card_agreements")
    .set({ status: "unbound", unbound_at: now, unbound_reason: reason.slice(0, 200) })
    .where("card_agreement_id", "=", card_agreement_id)
    .where("status", "=", "active")
    .execute();
}

export async function getAgreementWithCard(db: Kysely<Database>, merchant_id: string, agreement_id: string): Promise<{ agreement: AgreementRow; card: CardRow }> {
  const agreement = await db.selectFrom("agreements").selectAll().where("agreement_id", "=", agreement_id).where("merchant_id", "=", merchant_id).executeTakeFirst();
  if (!agreement) throw notFound("agreement");
  const card = await db.selectFrom("cards").selectAll().where("card_id", "=", agreement.card_id).executeTakeFirstOrThrow();
  return { agreement, card };
}

export async function listAgreements(
  db: Kysely<Database>,
  merchant_id: string,
  q: { user_ref?: string | undefined; status?: "active" | "unbound" | undefined; cursor?: string | undefined; limit: number },
) {
  let query = db
    .selectFrom("agreements")
    .innerJoin("cards", "cards.card_id", "agreements.card_id")
    .selectAll("agreements")
    .select(["cards.bank_code", "cards.bank_name", "cards.card_type", "cards.last4"])
    .where("agreements.merchant_id", "=", merchant_id)
    .orderBy("agreements.agreement_id", "desc")
    .limit(q.limit + 1);
  if (q.user_ref) query = query.where("agreements.user_ref", "=", q.user_ref);
  if (q.status) query = query.where("agreements.status", "=", q.status);
  if (q.cursor) query = query.where("agreements.agreement_id", "<", q.cursor);
  return toPage(await query.execute(), q.limit, (r) => r.agreement_id);
}
