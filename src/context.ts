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
}

export const DEFAULT_SETTINGS: Settings = {
  key_grace_ms: 24 * 3_600_000,
  rate_limit_per_minute: 600,
  body_limit_bytes: 64 * 1024,
  public_url: null,
  webhook_allow_hosts: [],
};
