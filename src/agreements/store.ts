import { toPage } from "../db/paging.ts";
import { statementTemplate } from "../db/template.ts";
import { sql, type Kysely } from "kysely";
import type { AgreementRow, CardAgreementRow, CardRow, Database } from "../db/index.ts";
import { notFound } from "../kernel/errors.ts";
import { cardBlocklistHitsSql, parseBlocklistHits, type BlocklistHit } from "../risk/blocklist.ts";
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
    .onConflict((oc) => oc.columns(["merchant_id", "card_id"]).where("status", "=", sql.lit("active")).doNothing())
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
  // The arbiter's predicate is a literal: a prepared statement's generic plan cannot prove that a
  // parameter `status = $1` implies the partial index's `status = 'active'` (src/db/prepared.ts).
  // Two payments syncing the card to the same network at once: the first insert wins the partial
  // unique index and the other uses that agreement (the network knows the card under both numbers).
  const inserted = await trx
    .insertInto("card_agreements")
    .values(row)
    .onConflict((oc) => oc.columns(["card_id", "channel_id"]).where("status", "=", sql.lit("active")).doNothing())
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
  // One round trip: the card's columns as they are, the agreement's under a prefix.
  const row = await agreementWithCardQuery(db, merchant_id, agreement_id).executeTakeFirst();
  if (!row) throw notFound("agreement");
  return splitAgreementRow(row);
}

/**
 * What a payment reads before its intent, in one round trip: the id of the payment the merchant ID
 * already recorded under this `out_trade_no` (an idempotent repeat), the agreement with its card
 * (getAgreementWithCard) and the card's active network agreements (what routing needs, as
 * activeCardAgreements answers them): one row per network agreement, or one with none; the
 * network agreement's columns under a prefix; and the blocklist entries naming the card, its
 * holder or its phone (src/risk/blocklist.ts). Null when the agreement is not this merchant's.
 */
export async function getAgreementForPayment(
  db: Kysely<Database>,
  merchant_id: string,
  agreement_id: string,
  out_trade_no: string,
): Promise<{ repeat_payment_id: string | null; agreement: AgreementRow; card: CardRow; held: CardAgreementRow[]; blocked: BlocklistHit[] } | null> {
  const { rows } = await agreementForPayment.execute(db, merchant_id, agreement_id, out_trade_no);
  const first = rows[0];
  if (!first) return null;
  const held: CardAgreementRow[] = [];
  for (const r of rows) {
    if (r.g_card_agreement_id === null) continue;
    held.push({
      card_agreement_id: r.g_card_agreement_id,
      card_id: r.card_id,
      channel_id: r.g_channel_id!,
      network_agreement_no: r.g_network_agreement_no!,
      verified_elements: r.g_verified_elements,
      origin: r.g_origin!,
      status: r.g_status!,
      created_at: r.g_created_at!,
      unbound_at: r.g_unbound_at,
      unbound_reason: r.g_unbound_reason,
    });
  }
  const { agreement, card } = splitAgreementRow(first);
  return { repeat_payment_id: first.g_repeat_payment_id, agreement, card, held, blocked: parseBlocklistHits(first.g_blocked) };
}

/** getAgreementForPayment's read, built and compiled once (src/db/template.ts): it runs on every payment. */
const agreementForPayment = statementTemplate(3, (db, merchant_id: string, agreement_id: string, out_trade_no: string) =>
  agreementWithCardQuery(db, merchant_id, agreement_id)
    .leftJoin("card_agreements as g", (join) => join.onRef("g.card_id", "=", "c.card_id").on("g.status", "=", "active"))
    .select((eb) =>
      eb
        .selectFrom("payments as p")
        .select("p.payment_id")
        .where("p.merchant_id", "=", merchant_id)
        .where("p.out_trade_no", "=", out_trade_no)
        .as("g_repeat_payment_id"),
    )
    // The blocklist entries naming the card, its holder or its phone (risk screening, src/risk/screen.ts).
    .select(cardBlocklistHitsSql("c").as("g_blocked"))
    .select(["g.card_agreement_id as g_card_agreement_id", "g.channel_id as g_channel_id", "g.network_agreement_no as g_network_agreement_no"])
    .select(["g.verified_elements as g_verified_elements", "g.origin as g_origin", "g.status as g_status", "g.created_at as g_created_at"])
    .select(["g.unbound_at as g_unbound_at", "g.unbound_reason as g_unbound_reason"])
    .orderBy("g.created_at"),
);

function agreementWithCardQuery(db: Kysely<Database>, merchant_id: string, agreement_id: string) {
  return db
    .selectFrom("agreements as a")
    .innerJoin("cards as c", "c.card_id", "a.card_id")
    .selectAll("c")
    .select(["a.agreement_id as a_agreement_id", "a.merchant_id as a_merchant_id", "a.user_ref as a_user_ref", "a.sign_request_id as a_sign_request_id"])
    .select(["a.status as a_status", "a.created_at as a_created_at", "a.unbound_at as a_unbound_at", "a.unbound_reason as a_unbound_reason"])
    .where("a.agreement_id", "=", agreement_id)
    .where("a.merchant_id", "=", merchant_id);
}

type AgreementWithCardRow = CardRow & {
  a_agreement_id: string;
  a_merchant_id: string;
  a_user_ref: string;
  a_sign_request_id: AgreementRow["sign_request_id"];
  a_status: AgreementRow["status"];
  a_created_at: Date;
  a_unbound_at: Date | null;
  a_unbound_reason: AgreementRow["unbound_reason"];
};

function splitAgreementRow<R extends AgreementWithCardRow>(row: R): { agreement: AgreementRow; card: CardRow } {
  const { a_agreement_id, a_merchant_id, a_user_ref, a_sign_request_id, a_status, a_created_at, a_unbound_at, a_unbound_reason } = row;
  const card = cardColumns(row);
  const agreement: AgreementRow = {
    agreement_id: a_agreement_id,
    merchant_id: a_merchant_id,
    user_ref: a_user_ref,
    card_id: card.card_id,
    sign_request_id: a_sign_request_id,
    status: a_status,
    created_at: a_created_at,
    unbound_at: a_unbound_at,
    unbound_reason: a_unbound_reason,
  };
  return { agreement, card };
}

/** The card's own columns of a joined row (those not under an `a_` or `g_` prefix). */
function cardColumns(row: AgreementWithCardRow): CardRow {
  const card: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (!k.startsWith("a_") && !k.startsWith("g_")) card[k] = v;
  return card as unknown as CardRow;
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
