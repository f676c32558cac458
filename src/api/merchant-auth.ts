import type { Kysely } from "kysely";
import type { Ctx } from "../context.ts";
import { confirmConfigAfterwards, configVersionSql, observeConfigVersion, type Database, type MerchantRow } from "../db/index.ts";
import { hmacSha256Base64, safeEqual } from "../kernel/crypto/index.ts";
import { PaycoreError } from "../kernel/errors.ts";
import { LIMITS } from "../kernel/limits.ts";
import { assertActive, cachedMerchant, effectiveStatus, usableKeySecret } from "../merchants/index.ts";

/**
 * The Open API's request signature (docs/merchant-api.md):
 * `Authorization: PAYCORE-HMAC-SHA256 mch_id="…",key_id="…",timestamp="…",nonce="…",signature="…"`
 * over METHOD \n PATH_WITH_QUERY \n timestamp \n nonce \n BODY \n.
 */
export const AUTH_SCHEME = "PAYCORE-HMAC-SHA256";

export interface SignatureHeader {
  mch_id: string;
  key_id: string;
  timestamp: string;
  nonce: string;
  signature: string;
}

export interface MerchantPrincipal {
  merchant_id: string;
  key_id: string;
  secret: string;
  merchant: MerchantRow;
}

const PARAM_RE = /^\s*([a-z_]+)="([^"]*)"\s*$/;

export function parseAuthorization(header: string | undefined): SignatureHeader {
  const fail = (why: string) => new PaycoreError("invalid_signature", `Authorization: ${why}`);
  if (!header) throw fail(`missing; expected ${AUTH_SCHEME} with mch_id, key_id, timestamp, nonce, signature`);
  if (header.length > 1024) throw fail("too long");
  const space = header.indexOf(" ");
  if (space < 0 || header.slice(0, space) !== AUTH_SCHEME) throw fail(`scheme must be ${AUTH_SCHEME}`);
  const params: Record<string, string> = {};
  for (const part of header.slice(space + 1).split(",")) {
    const m = PARAM_RE.exec(part);
    if (!m) throw fail(`malformed parameter '${part.trim().slice(0, 40)}'`);
    params[m[1]!] = m[2]!;
  }
  const { mch_id, key_id, timestamp, nonce, signature } = params;
  if (!mch_id || !key_id || !timestamp || !nonce || !signature) throw fail("mch_id, key_id, timestamp, nonce and signature are all required");
  if (!/^\d{1,12}$/.test(timestamp)) throw fail("timestamp must be unix seconds");
  if (nonce.length > LIMITS.nonce_chars_max || !/^[\x21-\x7e]+$/.test(nonce)) throw fail(`nonce must be 1..${LIMITS.nonce_chars_max} printable characters`);
  return { mch_id, key_id, timestamp, nonce, signature };
}

export function requestStringToSign(method: string, path_with_query: string, timestamp: string, nonce: string, body: string): string {
  return `${method.toUpperCase()}\n${path_with_query}\n${timestamp}\n${nonce}\n${body}\n`;
}

export function responseStringToSign(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

export async function authenticateMerchant(
  ctx: Ctx,
  req: { method: string; url: string; authorization: string | undefined; body: string },
  /** Throws when this merchant ID is over its rate: checked after the signature, before the nonce is stored. */
  rateLimit: (merchant_id: string) => void = () => {},
): Promise<MerchantPrincipal> {
  const h = parseAuthorization(req.authorization);
  const now = ctx.clock.now();
  const skew_s = Math.abs(Number(h.timestamp) - Math.floor(now.getTime() / 1000));
  if (skew_s > LIMITS.signature_window_s) {
    throw new PaycoreError("invalid_signature", `timestamp is ${skew_s} s away from the server clock (window ${LIMITS.signature_window_s} s)`);
  }
  // Merchant and key come from cached configuration (src/db/config-cache.ts); the nonce's
  // statement reads the configuration version, and a moved version means: look again.
  const read_under = confirmConfigAfterwards(ctx.db);
  let verified = await verifiedPrincipal(ctx, h, req, now);
  // Over its rate, a client stores nothing: the nonce table grows only with the allowed rate.
  rateLimit(h.mch_id);
  const claimed = await claimNonce(ctx.db, h.mch_id, h.nonce, new Date(now.getTime() + LIMITS.nonce_ttl_ms));
  if (!claimed) throw new PaycoreError("replayed_request", "this nonce was already used within 15 minutes");
  observeConfigVersion(ctx.db, claimed.config_version);
  if (claimed.config_version !== read_under) verified = await verifiedPrincipal(ctx, h, req, now);
  assertActive(await effectiveStatus(ctx.db, verified.merchant));
  return verified;
}

async function verifiedPrincipal(ctx: Ctx, h: SignatureHeader, req: { method: string; url: string; body: string }, now: Date): Promise<MerchantPrincipal> {
  const merchant = await cachedMerchant(ctx.db, h.mch_id);
  const secret = merchant ? await usableKeySecret(ctx, h.mch_id, h.key_id, now) : null;
  // Unknown merchant, unknown key and wrong signature answer alike: nothing to probe.
  const expected = secret ? hmacSha256Base64(secret, requestStringToSign(req.method, req.url, h.timestamp, h.nonce, req.body)) : "";
  if (!merchant || !secret || !safeEqual(expected, h.signature)) {
    throw new PaycoreError("invalid_signature", "signature does not verify for this mch_id and key_id");
  }
  return { merchant_id: h.mch_id, key_id: h.key_id, secret, merchant };
}

/**
 * A nonce is used once per merchant ID: the primary key decides, race-free on both engines. The
 * same statement answers the configuration version (one round trip for both).
 */
async function claimNonce(db: Kysely<Database>, merchant_id: string, nonce: string, expires_at: Date): Promise<{ config_version: bigint } | null> {
  const inserted = await db
    .insertInto("api_nonces")
    .values({ merchant_id, nonce, expires_at })
    .onConflict((oc) => oc.columns(["merchant_id", "nonce"]).doUpdateSet({ expires_at }).where("api_nonces.expires_at", "<", new Date(expires_at.getTime() - LIMITS.nonce_ttl_ms)))
    .returning(configVersionSql.as("config_version"))
    .executeTakeFirst();
  return inserted ?? null;
}
