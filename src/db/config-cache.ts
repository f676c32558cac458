import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.ts";

/**
 * Read-mostly configuration cached per database handle: merchants, API keys, products, channels,
 * the settlement calendar. Every change to those tables moves `config_version` in the changing
 * transaction (triggers, migration 0701), from whichever paycore process made it. A cached value
 * is used while the version it was read under is current:
 * - a signed merchant request reads the version in the statement that claims its nonce, before
 *   anything it does is decided, and re-reads what it used if the version moved — so a merchant
 *   request always sees every change committed before it (suspension, key revocation, products,
 *   channels);
 * - other work (the sweeper, network notifications) confirms the version with one cheap read when
 *   the last confirmation is older than `confirm_ms`: it may use a value that changed less than
 *   that long ago.
 * Values are never cached across a version they were not read under.
 */
export const CONFIG_CACHE_LIMITS = { confirm_ms: 500, entries_max: 10_000 } as const;

interface CacheState {
  version: bigint | null;
  confirmed_at_ms: number;
  confirming: Promise<void> | null;
  entries: Map<string, unknown>;
}

const caches = new WeakMap<object, CacheState>();

/** Transactions share their database's adapter instance: one cache per handle, trx included. */
function stateOf(db: Kysely<Database>): CacheState {
  const key = db.getExecutor().adapter;
  let state = caches.get(key);
  if (!state) {
    state = { version: null, confirmed_at_ms: 0, confirming: null, entries: new Map() };
    caches.set(key, state);
  }
  return state;
}

/** Records a version read by some statement; a new one empties the cache. */
export function observeConfigVersion(db: Kysely<Database>, version: bigint): void {
  const state = stateOf(db);
  if (state.version !== version) state.entries.clear();
  state.version = version;
  state.confirmed_at_ms = performance.now();
}

/** The version the cache holds values for (null before the first read). */
export function cachedConfigVersion(db: Kysely<Database>): bigint | null {
  return stateOf(db).version;
}

/** The SQL expression a statement adds to return the version (`… , ${configVersionSql} AS config_version`). */
export const configVersionSql = sql<bigint>`(SELECT version FROM config_version WHERE singleton)`;

async function confirm(db: Kysely<Database>, state: CacheState): Promise<void> {
  if (state.version !== null && performance.now() - state.confirmed_at_ms < CONFIG_CACHE_LIMITS.confirm_ms) return;
  state.confirming ??= (async () => {
    const row = await db.selectFrom("config_version").select("version").where("singleton", "=", true).executeTakeFirstOrThrow();
    observeConfigVersion(db, row.version);
  })().finally(() => (state.confirming = null));
  await state.confirming;
}

/** The cached value of `key`, loading it when absent; `undefined` is never cached. */
export async function cachedConfig<T>(db: Kysely<Database>, key: string, load: () => Promise<T>): Promise<T> {
  const state = stateOf(db);
  await confirm(db, state);
  if (state.entries.has(key)) return state.entries.get(key) as T;
  const version = state.version;
  const value = await load();
  if (value !== undefined && state.version === version) {
    if (state.entries.size >= CONFIG_CACHE_LIMITS.entries_max) state.entries.clear();
    state.entries.set(key, value);
  }
  return value;
}
