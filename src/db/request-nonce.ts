import { sql, type Kysely, type RawBuilder } from "kysely";
import { configVersionSql, observeConfigVersion } from "./config-cache.ts";
import type { Database } from "./schema.ts";

/**
 * A signed request's nonce, used once per merchant ID within its lifetime (docs/merchant-api.md).
 * The primary key of `api_nonces` decides, race-free on both engines; the statement that claims
 * it also answers the configuration version the request's cached merchant and key were read
 * under (src/db/config-cache.ts), so one round trip does both.
 *
 * Most requests claim their nonce right after the signature verifies. `POST /v1/payments` defers
 * it into the statement that records the payment's intent (src/payments/intent.ts): nonce,
 * intent and risk counters commit together or not at all, one commit instead of two. Whatever
 * such a request answers without recording an intent, it claims the nonce first (the route does
 * it before the answer leaves; the payment code before any other write), so a replayed request
 * never gets anything but `replayed_request`.
 */
export interface NonceClaim {
  merchant_id: string;
  nonce: string;
  expires_at: Date;
  /** The configuration version the request's cached values were read under (null: none yet). */
  read_under: bigint | null;
  /** Set once the nonce is stored (by `claimNonce` or by the intent statement). */
  claimed: boolean;
}

/** The nonce's `INSERT … RETURNING config_version`, as a statement or a CTE: no row when replayed. */
export function nonceInsert(n: Pick<NonceClaim, "merchant_id" | "nonce" | "expires_at">, ttl_ms: number): RawBuilder<{ config_version: bigint }> {
  const stale_before = new Date(n.expires_at.getTime() - ttl_ms);
  return sql<{ config_version: bigint }>`INSERT INTO api_nonces (merchant_id, nonce, expires_at) VALUES (${n.merchant_id}, ${n.nonce}, ${n.expires_at}::timestamptz)
    ON CONFLICT (merchant_id, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE api_nonces.expires_at < ${stale_before}::timestamptz
    RETURNING ${configVersionSql} AS config_version`;
}

/** Stores the nonce; answers the configuration version, or null when it was already used. */
export async function claimNonce(db: Kysely<Database>, n: Pick<NonceClaim, "merchant_id" | "nonce" | "expires_at">, ttl_ms: number): Promise<{ config_version: bigint } | null> {
  const r = await nonceInsert(n, ttl_ms).execute(db);
  const row = r.rows[0];
  return row ? { config_version: BigInt(row.config_version) } : null;
}

/**
 * Claims a deferred nonce now, if nothing has yet: before a write other than the intent, and
 * before any answer leaves. Answers false when the nonce was already used (a replay); records
 * the configuration version it read.
 */
export async function claimDeferredNonce(db: Kysely<Database>, n: NonceClaim, ttl_ms: number): Promise<{ ok: boolean; config_version: bigint | null }> {
  if (n.claimed) return { ok: true, config_version: n.read_under };
  const claimed = await claimNonce(db, n, ttl_ms);
  if (!claimed) return { ok: false, config_version: null };
  n.claimed = true;
  observeConfigVersion(db, claimed.config_version);
  return { ok: true, config_version: claimed.config_version };
}

/** What a replayed request is told, wherever it is caught. */
export const REPLAYED_MESSAGE = "this nonce was already used within 15 minutes";

/**
 * Thrown when a deferred nonce's statement found the configuration moved since the request's
 * cached merchant and key were read: nothing was written, and the route runs the request again
 * on fresh configuration (at most a few times).
 */
export class StaleConfiguration extends Error {
  constructor(readonly config_version: bigint) {
    super("configuration changed while the request ran; it is run again");
  }
}
