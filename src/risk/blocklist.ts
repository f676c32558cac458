import { z } from "zod";
import { sql, type Kysely, type RawBuilder } from "kysely";
import type { Ctx } from "../context.ts";
import { toPage } from "../db/paging.ts";
import type { CardRow, Database } from "../db/index.ts";
import type { SecretBox } from "../kernel/crypto/index.ts";
import { isMobilePhone, residentIdProblem } from "../kernel/checks.ts";
import { invalidRequest, notFound } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import { recordAudit } from "../operators/index.ts";
import { RISK_LIMITS } from "./limits.ts";
import type { BlocklistKind, RiskBlocklistRow } from "./rows.ts";
import type { Actor } from "./rules.ts";

export const BlocklistCreate = z.strictObject({
  kind: z.enum(["card_number", "id_number", "phone"]),
  value: z.string().min(1).max(32).describe("the card number, resident ID number or mobile phone; kept only as a keyed fingerprint"),
  reason: z.string().min(1).max(RISK_LIMITS.reason_chars_max).optional(),
});
export type BlocklistCreateInput = z.infer<typeof BlocklistCreate>;

export const BlocklistOut = z.object({
  entry_id: z.string(),
  kind: z.enum(["card_number", "id_number", "phone"]),
  hint: z.string().describe("the last four characters, to recognise the entry; the value itself is not kept"),
  reason: z.string().nullable(),
  created_by: z.string(),
  created_at: z.string(),
});

export function blocklistToWire(r: RiskBlocklistRow): z.infer<typeof BlocklistOut> {
  return { entry_id: r.entry_id, kind: r.kind, hint: r.hint, reason: r.reason, created_by: r.created_by, created_at: r.created_at.toISOString() };
}

/**
 * The keyed fingerprint of a blocked value. Card and ID numbers use the vault's own fingerprint
 * kinds, so a blocked card matches `cards.card_fingerprint` and a blocked person
 * `cards.id_fingerprint` without decrypting anything.
 */
export function blockFingerprint(box: SecretBox, kind: BlocklistKind, value: string): string {
  return box.fingerprint(kind, value);
}

function normalize(kind: BlocklistKind, raw: string): string {
  const value = raw.replace(/[\s-]/g, "").toUpperCase();
  switch (kind) {
    case "card_number":
      if (!/^\d{12,19}$/.test(value)) throw invalidRequest("value", "a card number is 12 to 19 digits");
      return value;
    case "id_number":
      if (residentIdProblem(value) !== null) throw invalidRequest("value", "not a valid resident ID number (17 digits and a check character)");
      return value;
    case "phone":
      if (!isMobilePhone(value)) throw invalidRequest("value", "a mainland mobile number is 11 digits starting 13–19");
      return value;
  }
}

export async function addBlocklistEntry(ctx: Ctx, input: BlocklistCreateInput, actor: Actor): Promise<{ entry: RiskBlocklistRow; created: boolean }> {
  const now = ctx.clock.now();
  const value = normalize(input.kind, input.value);
  const fingerprint = blockFingerprint(ctx.box, input.kind, value);
  return ctx.db.transaction().execute(async (trx) => {
    const row: RiskBlocklistRow = {
      entry_id: newId("blk", now.getTime()),
      kind: input.kind,
      fingerprint,
      hint: `…${value.slice(-4)}`,
      reason: input.reason ?? null,
      created_by: actor.operator_id,
      created_at: now,
    };
    const inserted = await trx.insertInto("risk_blocklist").values(row).onConflict((oc) => oc.columns(["kind", "fingerprint"]).doNothing()).returningAll().executeTakeFirst();
    if (!inserted) {
      const existing = await trx.selectFrom("risk_blocklist").selectAll().where("kind", "=", input.kind).where("fingerprint", "=", fingerprint).executeTakeFirstOrThrow();
      return { entry: existing, created: false };
    }
    await recordAudit(trx, { ...actor, action: "risk.blocklist.add", target_type: "risk_blocklist", target_id: row.entry_id, before: null, after: blocklistToWire(row) }, now);
    return { entry: inserted, created: true };
  });
}

export async function removeBlocklistEntry(ctx: Ctx, entry_id: string, actor: Actor): Promise<void> {
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const row = await trx.deleteFrom("risk_blocklist").where("entry_id", "=", entry_id).returningAll().executeTakeFirst();
    if (!row) throw notFound("blocklist entry");
    await recordAudit(trx, { ...actor, action: "risk.blocklist.remove", target_type: "risk_blocklist", target_id: entry_id, before: blocklistToWire(row), after: null }, now);
  });
}

export async function listBlocklist(db: Kysely<Database>, q: { kind?: BlocklistKind | undefined; cursor?: string | undefined; limit: number }) {
  let query = db.selectFrom("risk_blocklist").selectAll().orderBy("entry_id", "desc").limit(q.limit + 1);
  if (q.kind) query = query.where("kind", "=", q.kind);
  if (q.cursor) query = query.where("entry_id", "<", q.cursor);
  const page = toPage(await query.execute(), q.limit, (r) => r.entry_id);
  return { data: page.data.map(blocklistToWire), next_cursor: page.next_cursor };
}

/** A blocklist entry that matched: what a decision names. */
export type BlocklistHit = Pick<RiskBlocklistRow, "entry_id" | "kind" | "hint">;

/**
 * The blocklist entries naming a card — its number, its holder's ID number, its phone — as a
 * column of the statement that reads the card (`card` is its alias): a JSON array, or null when
 * none. The card row carries the three keyed fingerprints the blocklist keeps (the phone's since
 * migration 1701), so a payment's first read (src/agreements/store.ts) finds them: three probes
 * of the blocklist's unique index (kind, fingerprint), no statement of its own, read from the
 * table by every payment, so an entry added or removed through any process applies to the next
 * payment of every process.
 */
export function cardBlocklistHitsSql(card: string): RawBuilder<BlocklistHit[] | string | null> {
  const column = (name: string) => sql.ref(`${card}.${name}`);
  return sql<BlocklistHit[] | string | null>`(SELECT json_agg(json_build_object('entry_id', b.entry_id, 'kind', b.kind, 'hint', b.hint) ORDER BY b.entry_id)
    FROM risk_blocklist b
    WHERE (b.kind = 'card_number' AND b.fingerprint = ${column("card_fingerprint")})
       OR (b.kind = 'id_number' AND b.fingerprint = ${column("id_fingerprint")})
       OR (b.kind = 'phone' AND b.fingerprint = ${column("phone_fingerprint")}))`;
}

/** The column `cardBlocklistHitsSql` read, as entries (the engines hand JSON back parsed or not). */
export function parseBlocklistHits(value: BlocklistHit[] | string | null): BlocklistHit[] {
  if (value === null) return [];
  return typeof value === "string" ? (JSON.parse(value) as BlocklistHit[]) : value;
}

/**
 * The blocklist entries naming a payment's card. `folded`: those the payment's first read found,
 * used as they are when the card carries its phone's fingerprint. Otherwise (a card stored before
 * migration 1701, or a caller that did not read them) one query, and a card without the phone's
 * fingerprint gets it, so its next payment needs no query. (That write may come before a
 * deferred nonce is claimed: it stores a value derived from the card alone, the same whoever
 * writes it, so a replayed request writing it changes nothing.)
 */
export async function cardBlocklistHits(ctx: Ctx, card: CardRow, folded: BlocklistHit[] | undefined): Promise<BlocklistHit[]> {
  if (folded !== undefined && card.phone_fingerprint !== null) return folded;
  const phone_fingerprint = card.phone_fingerprint ?? blockFingerprint(ctx.box, "phone", ctx.box.open(card.phone_enc, `card:${card.card_id}:phone`));
  const [hits] = await Promise.all([
    blocklistHits(ctx.db, [
      { kind: "card_number", fingerprint: card.card_fingerprint },
      { kind: "id_number", fingerprint: card.id_fingerprint },
      { kind: "phone", fingerprint: phone_fingerprint },
    ]),
    card.phone_fingerprint === null
      ? ctx.db.updateTable("cards").set({ phone_fingerprint }).where("card_id", "=", card.card_id).where("phone_fingerprint", "is", null).execute()
      : null,
  ]);
  return hits;
}

/** The blocklist entries matching any of these fingerprints (one indexed query). */
export async function blocklistHits(db: Kysely<Database>, prints: { kind: BlocklistKind; fingerprint: string }[]): Promise<RiskBlocklistRow[]> {
  const rows = await db.selectFrom("risk_blocklist").selectAll().where("fingerprint", "in", prints.map((p) => p.fingerprint)).execute();
  return rows.filter((r) => prints.some((p) => p.kind === r.kind && p.fingerprint === r.fingerprint));
}
