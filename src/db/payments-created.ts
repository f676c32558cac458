import { sql, type RawBuilder } from "kysely";

/**
 * Payments created in [from, to) (from `from` on when `to` is null), across merchant IDs and
 * cards: the condition that can use `payments_created_utc_idx` (migration 2250), which indexes
 * `created_at AT TIME ZONE 'UTC'` (the same order as `created_at`). A plain `created_at >= $1`
 * selects the same rows but cannot use that index; the expression keeps the risk windows'
 * per-card and per-merchant reads off it (migration 2250 says why). `alias` is the query's name
 * for payments, if it has one.
 */
export function paymentsCreatedIn(from: Date, to: Date | null, alias?: string): RawBuilder<boolean> {
  const column = sql.ref(alias ? `${alias}.created_at` : "created_at");
  const after = sql<boolean>`(${column} AT TIME ZONE 'UTC') >= (${from}::timestamptz AT TIME ZONE 'UTC')`;
  return to === null ? after : sql<boolean>`${after} AND (${column} AT TIME ZONE 'UTC') < (${to}::timestamptz AT TIME ZONE 'UTC')`;
}
