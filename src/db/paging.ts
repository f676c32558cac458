/**
 * Keyset paging over time-sortable ids: a list query orders by its id descending, fetches
 * `limit + 1` rows and filters `id < cursor`; this turns the rows into the API's page shape
 * (`{data, next_cursor}`), the extra row telling whether there is a next page.
 */
export function toPage<T>(rows: readonly T[], limit: number, key: (row: T) => string): { data: T[]; next_cursor: string | null } {
  const data = rows.slice(0, limit);
  return { data, next_cursor: rows.length > limit && data.length > 0 ? key(data[data.length - 1]!) : null };
}
