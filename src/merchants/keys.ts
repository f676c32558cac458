import type { Kysely } from "kysely";
import type { Ctx } from "../context.ts";
import { cachedConfig, type ApiKeyRow, type Database } from "../db/index.ts";
import { randomToken } from "../kernel/crypto/index.ts";
import { PaycoreError, notFound } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import { LIMITS } from "../kernel/limits.ts";
import { recordAudit } from "../operators/index.ts";
import type { Actor } from "./entities.ts";

/**
 * API keys of a merchant ID. The secret is shown once and stored sealed under the master key
 * (it must be recoverable: HMAC verification needs it). A rotated-out key keeps working until
 * its `expires_at` (the grace period); a revoked key stops at once.
 */
export async function issueKey(trx: Kysely<Database>, box: Ctx["box"], merchant_id: string, now: Date): Promise<{ key_id: string; secret: string }> {
  const key_id = newId("key", now.getTime());
  const secret = randomToken("sk_");
  await trx
    .insertInto("api_keys")
    .values({ key_id, merchant_id, secret_enc: box.seal(secret, `api_key:${key_id}`), status: "active", created_at: now, expires_at: null, revoked_at: null })
    .execute();
  return { key_id, secret };
}

export function keyState(row: Pick<ApiKeyRow, "status" | "expires_at">, now: Date): "active" | "revoked" | "expired" {
  if (row.status === "revoked") return "revoked";
  if (row.expires_at && row.expires_at.getTime() <= now.getTime()) return "expired";
  return "active";
}

export async function rotateKey(ctx: Ctx, merchant_id: string, grace_ms: number, actor: Actor) {
  const now = ctx.clock.now();
  const expires_at = new Date(now.getTime() + grace_ms);
  return ctx.db.transaction().execute(async (trx) => {
    const merchant = await trx.selectFrom("merchants").select("merchant_id").where("merchant_id", "=", merchant_id).forUpdate().executeTakeFirst();
    if (!merchant) throw notFound("merchant");
    const live = await trx.selectFrom("api_keys").select(["key_id", "expires_at"]).where("merchant_id", "=", merchant_id).where("status", "=", "active").execute();
    const usable = live.filter((k) => !k.expires_at || k.expires_at > now);
    if (usable.length >= LIMITS.keys_per_merchant_max) {
      throw new PaycoreError("invalid_request", `a merchant ID has at most ${LIMITS.keys_per_merchant_max} usable keys; revoke one first`);
    }
    // Older keys keep working for the grace period; a shorter existing expiry is kept.
    for (const k of usable) {
      if (!k.expires_at || k.expires_at > expires_at) {
        await trx.updateTable("api_keys").set({ expires_at }).where("key_id", "=", k.key_id).execute();
      }
    }
    const key = await issueKey(trx, ctx.box, merchant_id, now);
    await recordAudit(
      trx,
      { ...actor, action: "api_key.rotate", target_type: "merchant", target_id: merchant_id, before: { keys: usable.map((k) => k.key_id) }, after: { key_id: key.key_id, previous_keys_expire_at: expires_at.toISOString() } },
      now,
    );
    return { ...key, previous_keys_expire_at: usable.length > 0 ? expires_at.toISOString() : null };
  });
}

export async function revokeKey(ctx: Ctx, merchant_id: string, key_id: string, actor: Actor) {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom("api_keys").selectAll().where("key_id", "=", key_id).where("merchant_id", "=", merchant_id).forUpdate().executeTakeFirst();
    if (!row) throw notFound("api key");
    if (row.status === "revoked") return keyToWire(row, now);
    await trx.updateTable("api_keys").set({ status: "revoked", revoked_at: now }).where("key_id", "=", key_id).execute();
    await recordAudit(trx, { ...actor, action: "api_key.revoke", target_type: "merchant", target_id: merchant_id, before: { key_id, status: row.status }, after: { key_id, status: "revoked" } }, now);
    return keyToWire({ ...row, status: "revoked", revoked_at: now }, now);
  });
}

export async function listKeys(ctx: Pick<Ctx, "db" | "clock">, merchant_id: string) {
  const rows = await ctx.db.selectFrom("api_keys").selectAll().where("merchant_id", "=", merchant_id).orderBy("key_id", "desc").execute();
  const now = ctx.clock.now();
  return rows.map((r) => keyToWire(r, now));
}

export function keyToWire(row: ApiKeyRow, now: Date) {
  return {
    key_id: row.key_id,
    status: keyState(row, now),
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
  };
}

export interface MerchantCredentials {
  merchant_id: string;
  key_id: string;
  secret: string;
}

/** For request authentication: the key's secret if the key belongs to the merchant and is usable now. */
export async function usableKeySecret(ctx: Pick<Ctx, "db" | "box">, merchant_id: string, key_id: string, now: Date): Promise<string | null> {
  // Cached configuration: a revocation moves config_version, which every process sees (src/db/config-cache.ts).
  // The secret is opened once per configuration version, not once per request (AES-GCM and a
  // base64 decode were about 0.1 ms of every signed request); it stays in this process's memory
  // only, as the HMAC check needs it there anyway, and is never logged.
  const key = await cachedConfig(ctx.db, `api_key:${merchant_id}:${key_id}`, async () => {
    const row = await ctx.db.selectFrom("api_keys").selectAll().where("key_id", "=", key_id).where("merchant_id", "=", merchant_id).executeTakeFirst();
    return row ? { row, secret: ctx.box.open(row.secret_enc, `api_key:${key_id}`) } : undefined;
  });
  if (!key || keyState(key.row, now) !== "active") return null;
  return key.secret;
}
