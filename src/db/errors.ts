/**
 * What a database error means, on both engines (pg and PGlite both carry the SQLSTATE as `code`
 * and the violated constraint or index as `constraint`). A unique-key race is a known outcome of
 * a check-then-insert: callers turn it into the answer the API promises, never a 500.
 */
export const SQLSTATE = {
  unique_violation: "23505",
  /** Raised by `payments_require_active_agreement` (migration 0610). */
  agreement_inactive: "PC001",
} as const;

function field(err: unknown, name: "code" | "constraint"): string | undefined {
  if (typeof err !== "object" || err === null || !(name in err)) return undefined;
  const value = (err as Record<string, unknown>)[name];
  return typeof value === "string" ? value : undefined;
}

export function sqlState(err: unknown): string | undefined {
  return field(err, "code");
}

/** A unique violation, of the named constraint or index when one is given. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  if (sqlState(err) !== SQLSTATE.unique_violation) return false;
  return constraint === undefined || field(err, "constraint") === constraint;
}
