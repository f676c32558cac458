import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.ts";
import { currentWork } from "./stats.ts";

/**
 * Read-mostly configuration cached per database handle: merchants, API keys, products, channels,
 * the settlement calendar, the risk rules. Every change to those tables moves `config_version` in
 * the changing transaction (triggers, migrations 0701 and 1700), from whichever paycore process
 * made it. A cached value is used only after the version it was read under has been confirmed
 * current by the piece of work using it:
 * - a signed merchant request reads the version in the statement that claims its nonce (no extra
 *   round trip) and re-reads what it used if the version moved;
 * - any other HTTP request confirms it once, with one cheap read, at its first cached lookup;
 * - background work (sweeper, settlement runs) confirms it at every lookup (one cheap read
 *   instead of the lookup's own queries).
 * So whatever committed before a piece of work started is what it sees, in every process.
 */
export const CONFIG_CACHE_LIMITS = { entries_max: 10_000 } as const;

interface CacheState {
  version: bigint | null;
  entries: Map<string, unknown>;
}

const caches = new WeakMap<object, CacheState>();

/** Transactions share their database's adapter instance: one cache per handle, trx included. */
function stateOf(db: Kysely<Database>): CacheState {
  const key = db.getExecutor().adapter;
  let state = caches.get(key);
  if (!state) {
    state = { version: null, entries: new Map() };
    caches.set(key, state);
  }
  return state;
}

/** Records a version read by a statement of the current work; a new one empties the cache. */
export function observeConfigVersion(db: Kysely<Database>, version: bigint): void {
  const state = stateOf(db);
  if (state.version !== version) state.entries.clear();
  state.version = version;
  const work = currentWork();
  if (work) (work.confirmed ??= new WeakSet()).add(state);
}

/**
 * Lets the current work use cached values before it has confirmed the version, because it reads
 * the version itself right after (the merchant request's nonce statement) and looks again if it
 * moved. Answers the version the cache holds now, to compare with.
 */
export function confirmConfigAfterwards(db: Kysely<Database>): bigint | null {
  const state = stateOf(db);
  const work = currentWork();
  if (work) (work.confirmed ??= new WeakSet()).add(state);
  return state.version;
}

/** The version the cache holds values for (null before the first read). */
export function cachedConfigVersion(db: Kysely<Database>): bigint | null {
  return stateOf(db).version;
}

/** The SQL expression a statement adds to return the version (`… , ${configVersionSql} AS config_version`). */
export const configVersionSql = sql<bigint>`(SELECT version FROM config_version WHERE singleton)`;

async function confirm(db: Kysely<Database>, state: CacheState): Promise<void> {
  if (currentWork()?.confirmed?.has(state)) return;
  const row = await db.selectFrom("config_version").select("version").where("singleton", "=", true).executeTakeFirstOrThrow();
  observeConfigVersion(db, row.version);
}

/** The cached value of `key`, loading it when absent; `undefined` is never cached. */
export async function cachedConfig<T>(db: Kysely<Database>, key: string, load: () => Promise<T>): Promise<T> {
  const state = stateOf(db);
  // Already confirmed by this work (a payment asks six to eight times): no await of the confirmation.
  if (currentWork()?.confirmed?.has(state) && state.entries.has(key)) return state.entries.get(key) as T;
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
