import type { Kysely } from "kysely";
import type { Database } from "./db/index.ts";
import type { Clock } from "./kernel/clock.ts";
import type { SecretBox } from "./kernel/crypto/index.ts";
import type { Logger } from "./kernel/log.ts";

/** What every domain module is handed: the database, the clock, the key box, a logger, settings. */
export interface Ctx {
  db: Kysely<Database>;
  clock: Clock;
  box: SecretBox;
  log: Logger;
  settings: Settings;
}

export interface Settings {
  /** How long a rotated-out API key keeps working. */
  key_grace_ms: number;
  rate_limit_per_minute: number;
  body_limit_bytes: number;
  /**
   * The base of every absolute link paycore hands out (`PAYCORE_PUBLIC_URL`, no trailing slash).
   * Never taken from a request's Host. Null: links cannot be made (campaigns are refused).
   */
  public_url: string | null;
  /**
   * `PAYCORE_WEBHOOK_ALLOW_HOSTS`: the only internal destinations (host names, IPs, CIDR ranges)
   * notifications may go to. Empty: loopback, private and link-local targets are refused.
   */
  webhook_allow_hosts: readonly string[];
  /** A socket quiet this long while the client sends or reads is closed (`PAYCORE_CONNECTION_TIMEOUT_MS`). */
  connection_timeout_ms: number;
  /** Headers and body must have arrived this long after the request began (`PAYCORE_REQUEST_TIMEOUT_MS`). */
  request_timeout_ms: number;
  /** The body must have arrived this long after the headers (`PAYCORE_BODY_TIMEOUT_MS`). */
  body_timeout_ms: number;
}

export const DEFAULT_SETTINGS: Settings = {
  key_grace_ms: 24 * 3_600_000,
  rate_limit_per_minute: 600,
  body_limit_bytes: 64 * 1024,
  public_url: null,
  webhook_allow_hosts: [],
  connection_timeout_ms: 60_000,
  request_timeout_ms: 60_000,
  body_timeout_ms: 30_000,
};
