import type { Kysely } from "kysely";
import type { CardRow, Database } from "../db/index.ts";
import type { SecretBox } from "../kernel/crypto/index.ts";
import { safeEqual } from "../kernel/crypto/index.ts";
import { newId } from "../kernel/ids.ts";
import type { CardElements, CheckedCard } from "./card-input.ts";

/**
 * The card vault. Card number, ID number, name and phone are sealed under the master key with
 * the card id as associated data; keyed fingerprints (HMAC) find the same card or the same person
 * without decrypting. Nothing here returns or logs the clear values except `openElements`,
 * which only the channel call and the OTP sender use.
 */
export function cardFingerprint(box: SecretBox, card_number: string): string {
  return box.fingerprint("card_number", card_number);
}

export function sealElements(box: SecretBox, aad: string, elements: CardElements): string {
  return box.seal(JSON.stringify(elements), aad);
}

export function openSealedElements(box: SecretBox, aad: string, sealed: string): CardElements {
  return JSON.parse(box.open(sealed, aad)) as CardElements;
}

export function openElements(box: SecretBox, card: CardRow): CardElements {
  const aad = (field: string) => `card:${card.card_id}:${field}`;
  return {
    card_number: box.open(card.card_number_enc, aad("card_number")),
    holder_name: box.open(card.holder_name_enc, aad("holder_name")),
    id_number: box.open(card.id_number_enc, aad("id_number")),
    phone: box.open(card.phone_enc, aad("phone")),
  };
}

function sealedColumns(box: SecretBox, card_id: string, e: CardElements) {
  const aad = (field: string) => `card:${card_id}:${field}`;
  return {
    card_number_enc: box.seal(e.card_number, aad("card_number")),
    holder_name_enc: box.seal(e.holder_name, aad("holder_name")),
    id_number_enc: box.seal(e.id_number, aad("id_number")),
    id_fingerprint: box.fingerprint("id_number", e.id_number),
    phone_enc: box.seal(e.phone, aad("phone")),
    // The blocklist's fingerprint of a phone (src/risk/blocklist.ts): a payment finds a blocked phone in its first read.
    phone_fingerprint: box.fingerprint("phone", e.phone),
  };
}

/** Finds the card by fingerprint or adds it (the elements stored are the first ones seen). */
export async function findOrAddCard(db: Kysely<Database>, box: SecretBox, card: CheckedCard, now: Date): Promise<CardRow> {
  const fingerprint = cardFingerprint(box, card.elements.card_number);
  const existing = await db.selectFrom("cards").selectAll().where("card_fingerprint", "=", fingerprint).executeTakeFirst();
  if (existing) return existing;
  const card_id = newId("crd", now.getTime());
  const row: CardRow = {
    card_id,
    card_fingerprint: fingerprint,
    bin: card.bin,
    last4: card.elements.card_number.slice(-4),
    bank_code: card.bank.bank_code,
    bank_name: card.bank.bank_name,
    card_type: card.card_type,
    ...sealedColumns(box, card_id, card.elements),
    created_at: now,
    updated_at: now,
  };
  await db.insertInto("cards").values(row).onConflict((oc) => oc.column("card_fingerprint").doNothing()).execute();
  return db.selectFrom("cards").selectAll().where("card_fingerprint", "=", fingerprint).executeTakeFirstOrThrow();
}

/** After the bank verified new elements (a changed phone, say), the vault takes them. */
export async function updateCardElements(db: Kysely<Database>, box: SecretBox, card_id: string, elements: CardElements, now: Date): Promise<void> {
  await db
    .updateTable("cards")
    .set({ ...sealedColumns(box, card_id, elements), updated_at: now })
    .where("card_id", "=", card_id)
    .execute();
}

/** Whether the submitted elements are the ones the bank verified for this card. */
export function sameElements(box: SecretBox, card: CardRow, submitted: CardElements): boolean {
  const stored = openElements(box, card);
  return (
    safeEqual(stored.holder_name, submitted.holder_name) &&
    safeEqual(stored.id_number, submitted.id_number) &&
    safeEqual(stored.phone, submitted.phone) &&
    safeEqual(stored.card_number, submitted.card_number)
  );
}
