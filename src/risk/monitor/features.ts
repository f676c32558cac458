import { sql, type Kysely } from "kysely";
import type { Database } from "../../db/index.ts";
import { paymentsCreatedIn } from "../../db/payments-created.ts";
import type { SecretBox } from "../../kernel/crypto/index.ts";
import { RISK_LIMITS } from "../limits.ts";
import { CATEGORY_TICKET_FEN, type MerchantFeatures } from "./signals.ts";

/** Beijing time is UTC+8 without daylight saving: hours and weekdays from epoch seconds. */
const BEIJING_S = 28_800;

interface Aggregate {
  merchant_id: string;
  n: bigint | number;
  night: bigint | number;
  weekend: bigint | number;
  round: bigint | number;
  failed: bigint | number;
  refunded: bigint | number;
  cards: bigint | number;
  holders: bigint | number;
  avg_ticket: number | string;
}

/**
 * Each merchant ID's traffic in [start, end) measured for the signals, with the previous three
 * windows for comparison: a few grouped statements over the payments of the period (indexed by
 * merchant ID and time); the shared-phone signal over the cards' keyed phone fingerprints.
 */
export async function gatherFeatures(db: Kysely<Database>, box: SecretBox, start: Date, end: Date): Promise<Map<string, MerchantFeatures>> {
  const window_ms = end.getTime() - start.getTime();
  const history_start = new Date(start.getTime() - 3 * window_ms);
  const aggregates = await sql<Aggregate>`
    SELECT p.merchant_id,
      count(*) AS n,
      count(*) FILTER (WHERE ((extract(epoch FROM p.created_at)::bigint + ${BEIJING_S}) % 86400) < 21600) AS night,
      count(*) FILTER (WHERE (((extract(epoch FROM p.created_at)::bigint + ${BEIJING_S}) / 86400) + 4) % 7 IN (0, 6)) AS weekend,
      count(*) FILTER (WHERE p.amount % 10000 = 0) AS round,
      count(*) FILTER (WHERE p.status = 'failed') AS failed,
      count(*) FILTER (WHERE p.refunded_amount > 0) AS refunded,
      count(DISTINCT p.card_id) AS cards,
      count(DISTINCT c.id_fingerprint) AS holders,
      avg(p.amount)::float8 AS avg_ticket
    FROM payments p JOIN cards c ON c.card_id = p.card_id
    WHERE ${paymentsCreatedIn(start, end, "p")}
    GROUP BY p.merchant_id
    ORDER BY p.merchant_id
    LIMIT ${RISK_LIMITS.monitor_merchants_max}`.execute(db);
  const top = await sql<{ merchant_id: string; top: bigint | number }>`
    SELECT merchant_id, sum(c)::int8 AS top FROM (
      SELECT merchant_id, count(*) AS c, row_number() OVER (PARTITION BY merchant_id ORDER BY count(*) DESC) AS rn
      FROM payments WHERE ${paymentsCreatedIn(start, end)} GROUP BY merchant_id, amount) t
    WHERE rn <= 3 GROUP BY merchant_id`.execute(db);
  const history = await sql<{ merchant_id: string; n: bigint | number }>`
    SELECT merchant_id, count(*) AS n FROM payments WHERE ${paymentsCreatedIn(history_start, start)} GROUP BY merchant_id`.execute(db);
  const merchants = await db.selectFrom("merchants").select(["merchant_id", "business_category", "settlement_cycle_days", "created_at"]).where("merchant_id", "in", aggregates.rows.length ? aggregates.rows.map((a) => a.merchant_id) : [""]).execute();
  const sharing = await holdersSharingPhones(db, box, start, end);
  const tops = new Map(top.rows.map((r) => [r.merchant_id, Number(r.top)]));
  const past = new Map(history.rows.map((r) => [r.merchant_id, Number(r.n)]));
  const info = new Map(merchants.map((m) => [m.merchant_id, m]));
  const per_week = 7 * 86_400_000 / window_ms;
  const out = new Map<string, MerchantFeatures>();
  for (const a of aggregates.rows) {
    const m = info.get(a.merchant_id);
    if (!m) continue;
    const has_history = m.created_at.getTime() <= history_start.getTime();
    out.set(a.merchant_id, {
      payments: Number(a.n),
      night: Number(a.night),
      weekend: Number(a.weekend),
      round: Number(a.round),
      top_amounts: tops.get(a.merchant_id) ?? 0,
      failed: Number(a.failed),
      refunded: Number(a.refunded),
      distinct_cards: Number(a.cards),
      distinct_holders: Number(a.holders),
      holders_sharing_phone: sharing.get(a.merchant_id) ?? 0,
      avg_ticket_fen: Number(a.avg_ticket),
      previous_weekly: has_history ? ((past.get(a.merchant_id) ?? 0) / 3) * per_week : null,
      recent_weekly: Number(a.n) * per_week,
      settlement_cycle_days: m.settlement_cycle_days,
      category_ticket_fen: CATEGORY_TICKET_FEN[m.business_category] ?? null,
      business_category: m.business_category,
    });
  }
  fillPeerTickets(out);
  return out;
}

/** For a category the table does not know, the median ticket of its peers (three or more). */
function fillPeerTickets(all: Map<string, MerchantFeatures>): void {
  const by = new Map<string, number[]>();
  for (const f of all.values()) by.set(f.business_category, [...(by.get(f.business_category) ?? []), f.avg_ticket_fen]);
  for (const f of all.values()) {
    if (f.category_ticket_fen !== null) continue;
    const peers = (by.get(f.business_category) ?? []).sort((x, y) => x - y);
    if (peers.length >= 3) f.category_ticket_fen = peers[Math.floor(peers.length / 2)]!;
  }
}

/**
 * Per merchant ID: how many of its payers' ID holders carry a card phone that another ID holder's
 * card, paying anywhere in the same window, also carries. Counted in the database over the cards'
 * keyed phone fingerprints (migration 1701): no phone is decrypted, and every payment of the window
 * counts, not a sample. Cards stored before the fingerprint existed get it first
 * (fillPhoneFingerprints).
 */
async function holdersSharingPhones(db: Kysely<Database>, box: SecretBox, start: Date, end: Date): Promise<Map<string, number>> {
  await fillPhoneFingerprints(db, box);
  const rows = await sql<{ merchant_id: string; holders: bigint | number }>`
    WITH paid AS (
      SELECT DISTINCT p.merchant_id, c.id_fingerprint, c.phone_fingerprint
      FROM payments p JOIN cards c ON c.card_id = p.card_id
      WHERE ${paymentsCreatedIn(start, end, "p")} AND c.phone_fingerprint IS NOT NULL),
    shared AS (
      SELECT phone_fingerprint FROM paid GROUP BY phone_fingerprint HAVING count(DISTINCT id_fingerprint) >= 2)
    SELECT paid.merchant_id, count(DISTINCT paid.id_fingerprint) AS holders
    FROM paid JOIN shared ON shared.phone_fingerprint = paid.phone_fingerprint
    GROUP BY paid.merchant_id
    ORDER BY paid.merchant_id
    LIMIT ${RISK_LIMITS.monitor_merchants_max}`.execute(db);
  return new Map(rows.rows.map((r) => [r.merchant_id, Number(r.holders)]));
}

/**
 * Gives every card stored before migration 1701 its phone's keyed fingerprint, in batches: each
 * card's phone is opened once, here, and never again (a card written since carries the
 * fingerprint from the start). Returns how many cards were filled.
 */
export async function fillPhoneFingerprints(db: Kysely<Database>, box: SecretBox): Promise<number> {
  let filled = 0;
  for (;;) {
    const batch = await db.selectFrom("cards").select(["card_id", "phone_enc"]).where("phone_fingerprint", "is", null)
      .orderBy("card_id").limit(RISK_LIMITS.fingerprint_fill_batch).execute();
    if (batch.length === 0) return filled;
    const ids = batch.map((c) => c.card_id);
    const prints = batch.map((c) => box.fingerprint("phone", box.open(c.phone_enc, `card:${c.card_id}:phone`)));
    await sql`
      UPDATE cards SET phone_fingerprint = f.print
      FROM unnest(${ids}::text[], ${prints}::text[]) AS f(card_id, print)
      WHERE cards.card_id = f.card_id AND cards.phone_fingerprint IS NULL`.execute(db);
    filled += batch.length;
    if (batch.length < RISK_LIMITS.fingerprint_fill_batch) return filled;
  }
}
