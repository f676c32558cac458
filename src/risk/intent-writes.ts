import { sql, type RawBuilder } from "kysely";
import { counterUpsert, type CounterAddition } from "./counters.ts";

/**
 * What the risk check adds to the one statement that records a payment's intent
 * (src/payments/intent.ts): the payment's counter buckets, its decision (and a review's alert),
 * and for a payment under rules the guard that takes the scope locks, counts and judges
 * (`risk_payment_judge`, migration 1850).
 */
export interface IntentRisk {
  counters: CounterAddition;
  /**
   * A boolean SQL expression the statement evaluates before it writes anything (the nonce
   * included): false writes nothing, and the intent's insert throws `RiskScopesMoved`.
   */
  guard: RawBuilder<boolean> | null;
  /** Inserts that run only if the payment row went in, given the name of the CTE holding it. */
  writes: (inserted: string) => RawBuilder<unknown>[];
}

/** Only the counter buckets: a payment no rule applies to. */
export function countersOnly(counters: CounterAddition): IntentRisk {
  return { counters, guard: null, writes: () => [] };
}

/** The data-modifying statements the intent's statement runs after its insert, in order. */
export function intentRiskWrites(risk: IntentRisk, inserted: string): RawBuilder<unknown>[] {
  return [counterUpsert(risk.counters, inserted), ...risk.writes(inserted)];
}

/**
 * The guard answered false: the rules judged in the intent's statement reject the payment (or,
 * for a guard that re-checks an earlier count, a payment of a locked scope was recorded since),
 * and the statement wrote nothing. The payment is judged again under the locks, in a transaction.
 */
export class RiskScopesMoved extends Error {
  constructor() {
    super("a risk scope's attempts changed since they were counted");
    this.name = "RiskScopesMoved";
  }
}

/** `WITH` entries `name AS (statement)` for the writes, named r0, r1, …. */
export function namedWrites(writes: readonly RawBuilder<unknown>[]): RawBuilder<unknown> {
  return sql.join(writes.map((w, i) => sql`${sql.id(`r${i}`)} AS (${w})`));
}
