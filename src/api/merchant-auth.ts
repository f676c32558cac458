import type { Ctx } from "../context.ts";
import { confirmConfigAfterwards, observeConfigVersion, type MerchantRow } from "../db/index.ts";
import { claimDeferredNonce, claimNonce, REPLAYED_MESSAGE, type NonceClaim } from "../db/request-nonce.ts";
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
  /** A deferred nonce (src/db/request-nonce.ts): claimed by the request's writing statement or before its answer. */
  nonce?: NonceClaim;
  /** Checks signature and status again (when a deferred nonce's claim found the configuration moved). */
  recheck?: () => Promise<void>;
}

const PARAM_NAMES = ["mch_id", "key_id", "timestamp", "nonce", "signature"] as const;
type ParamName = (typeof PARAM_NAMES)[number];
/** One `name="value"` pair; values are printable ASCII without quote or backslash (no escapes). */
const PARAM_RE = /^[ \t]*([a-z_]{1,16})="([\x21\x23-\x5b\x5d-\x7e]*)"[ \t]*$/;
/** HMAC-SHA256 in standard base64: 32 bytes, 44 characters. */
const SIGNATURE_RE = /^[A-Za-z0-9+/]{43}=$/;

/**
 * What every signature failure answers, whatever went wrong: a bad header, an unknown merchant or
 * key, a wrong signature, a timestamp outside the window. One message, and never the server's
 * clock, so an unauthenticated caller learns nothing it could probe with. The reason is logged.
 */
export const SIGNATURE_FAILURE_MESSAGE =
  "the request signature does not verify (check the Authorization header, mch_id, key_id, secret, the signed string and your clock: docs/merchant-api.md)";

/** A signature failure: answers as `invalid_signature` with the one message; `reason` stays in the log. */
export class SignatureFailure extends PaycoreError {
  readonly reason: string;
  constructor(reason: string) {
    super("invalid_signature", SIGNATURE_FAILURE_MESSAGE);
    this.reason = reason;
  }
}

/**
 * The one Authorization header of a request, from the raw header list: Node keeps only the first of
 * repeated Authorization headers, and a request that sends two is refused rather than guessed at.
 */
export function singleAuthorization(raw_headers: readonly string[]): string | undefined {
  let found: string | undefined;
  for (let i = 0; i + 1 < raw_headers.length; i += 2) {
    if (raw_headers[i]!.toLowerCase() !== "authorization") continue;
    if (found !== undefined) throw new SignatureFailure("Authorization header sent more than once");
    found = raw_headers[i + 1]!;
  }
  return found;
}

/**
 * Strict: the scheme, then exactly the five parameters, each once, nothing else. A duplicate or an
 * unknown parameter is refused (a lenient parser lets two parties read one header differently).
 */
export function parseAuthorization(header: string | undefined): SignatureHeader {
  if (!header) throw new SignatureFailure("Authorization missing");
  if (header.length > LIMITS.authorization_chars_max) throw new SignatureFailure("Authorization too long");
  const space = header.indexOf(" ");
  if (space < 0 || header.slice(0, space) !== AUTH_SCHEME) throw new SignatureFailure("scheme is not " + AUTH_SCHEME);
  const params = new Map<ParamName, string>();
  for (const part of header.slice(space + 1).split(",")) {
    const m = PARAM_RE.exec(part);
    if (!m) throw new SignatureFailure("malformed parameter");
    const name = m[1]! as ParamName;
    if (!PARAM_NAMES.includes(name)) throw new SignatureFailure(`unknown parameter '${m[1]}'`);
    if (params.has(name)) throw new SignatureFailure(`parameter '${name}' repeated`);
    params.set(name, m[2]!);
  }
  const missing = PARAM_NAMES.filter((n) => !params.get(n));
  if (missing.length > 0) throw new SignatureFailure(`missing ${missing.join(", ")}`);
  const h = Object.fromEntries(params) as Record<ParamName, string>;
  if (!/^\d{1,12}$/.test(h.timestamp)) throw new SignatureFailure("timestamp is not unix seconds");
  if (h.nonce.length > LIMITS.nonce_chars_max) throw new SignatureFailure("nonce too long");
  if (!SIGNATURE_RE.test(h.signature)) throw new SignatureFailure("signature is not base64 HMAC-SHA256");
  return { mch_id: h.mch_id, key_id: h.key_id, timestamp: h.timestamp, nonce: h.nonce, signature: h.signature };
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
  /** Leave the nonce to the request's writing statement (src/db/request-nonce.ts): the principal carries it. */
  options: { defer_nonce?: boolean } = {},
): Promise<MerchantPrincipal> {
  const h = parseAuthorization(req.authorization);
  const now = ctx.clock.now();
  const skew_s = Math.abs(Number(h.timestamp) - Math.floor(now.getTime() / 1000));
  if (skew_s > LIMITS.signature_window_s) throw new SignatureFailure(`timestamp outside the ${LIMITS.signature_window_s} s window`);
  // Merchant and key come from cached configuration (src/db/config-cache.ts); the nonce's
  // statement reads the configuration version, and a moved version means: look again.
  const read_under = confirmConfigAfterwards(ctx.db);
  let verified = await verifiedPrincipal(ctx, h, req, now);
  // Over its rate, a client stores nothing: the nonce table grows only with the allowed rate.
  rateLimit(h.mch_id);
  const nonce: NonceClaim = { merchant_id: h.mch_id, nonce: h.nonce, expires_at: new Date(now.getTime() + LIMITS.nonce_ttl_ms), read_under, claimed: false };
  // Deferred only while the cached merchant is active: a refusal is confirmed on current
  // configuration first (below), as every other request's is.
  if (options.defer_nonce && (await effectiveStatus(ctx.db, verified.merchant)) === "active") {
    return { ...verified, nonce, recheck: () => recheck(ctx, h, req, now) };
  }
  const claimed = await claimNonce(ctx.db, nonce, LIMITS.nonce_ttl_ms);
  if (!claimed) throw new PaycoreError("replayed_request", REPLAYED_MESSAGE);
  observeConfigVersion(ctx.db, claimed.config_version);
  if (claimed.config_version !== read_under) verified = await verifiedPrincipal(ctx, h, req, now);
  assertActive(await effectiveStatus(ctx.db, verified.merchant));
  return verified;
}

/** The signature and the merchant's status checked again on configuration that moved. */
async function recheck(ctx: Ctx, h: SignatureHeader, req: { method: string; url: string; body: string }, now: Date): Promise<void> {
  const verified = await verifiedPrincipal(ctx, h, req, now);
  assertActive(await effectiveStatus(ctx.db, verified.merchant));
}

/**
 * Claims the deferred nonce of a request that answers without having written it (an error, an
 * idempotent repeat): a replay answers `replayed_request`; a configuration change since the
 * request's cached values were read checks the signature and the merchant's status again.
 */
export async function claimBeforeAnswer(ctx: Ctx, principal: MerchantPrincipal): Promise<void> {
  const nonce = principal.nonce;
  if (!nonce || nonce.claimed) return;
  const claimed = await claimDeferredNonce(ctx.db, nonce, LIMITS.nonce_ttl_ms);
  if (!claimed.ok) throw new PaycoreError("replayed_request", REPLAYED_MESSAGE);
  if (claimed.config_version !== nonce.read_under) await principal.recheck?.();
}

async function verifiedPrincipal(ctx: Ctx, h: SignatureHeader, req: { method: string; url: string; body: string }, now: Date): Promise<MerchantPrincipal> {
  const merchant = await cachedMerchant(ctx.db, h.mch_id);
  const secret = merchant ? await usableKeySecret(ctx, h.mch_id, h.key_id, now) : null;
  // Unknown merchant, unknown key and wrong signature answer alike: nothing to probe.
  const expected = secret ? hmacSha256Base64(secret, requestStringToSign(req.method, req.url, h.timestamp, h.nonce, req.body)) : "";
  if (!merchant || !secret || !safeEqual(expected, h.signature)) {
    throw new SignatureFailure(!merchant ? "unknown mch_id" : !secret ? "unknown or unusable key_id" : "signature does not verify");
  }
  return { merchant_id: h.mch_id, key_id: h.key_id, secret, merchant };
}

