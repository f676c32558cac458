import { sql } from "kysely";
import type { Ctx } from "../context.ts";
import { LIMITS } from "../kernel/limits.ts";
import { sweepOldCounters } from "../risk/index.ts";

/** Batches per table per run: with the run every 10 s, up to 2.4 M expired rows a minute per table. */
export const SWEEP_BATCHES_PER_RUN_MAX = 40;

/**
 * Deletes expired nonces and idempotency keys, and risk counter buckets older than any rule's
 * window (src/risk/counters.ts), in bounded batches (LIMITS.sweep_batch_rows_max rows
 * a statement), batch after batch until one comes back short or the run's bound is reached: the
 * sweep keeps up with any rate the rate limit allows without one huge statement.
 */
export async function sweepExpired(ctx: Pick<Ctx, "db" | "clock">): Promise<{ nonces: number; idempotency_keys: number; risk_buckets: number }> {
  const now = ctx.clock.now();
  const batch = LIMITS.sweep_batch_rows_max;
  const drain = async (one: () => Promise<number>) => {
    let total = 0;
    for (let i = 0; i < SWEEP_BATCHES_PER_RUN_MAX; i++) {
      const n = await one();
      total += n;
      if (n < batch) break;
    }
    return total;
  };
  const nonces = await drain(async () => {
    const r = await sql`DELETE FROM api_nonces WHERE (merchant_id, nonce) IN (
      SELECT merchant_id, nonce FROM api_nonces WHERE expires_at < ${now} LIMIT ${batch})`.execute(ctx.db);
    return Number(r.numAffectedRows ?? 0n);
  });
  const idempotency_keys = await drain(async () => {
    const r = await sql`DELETE FROM idempotency_keys WHERE (merchant_id, idem_key) IN (
      SELECT merchant_id, idem_key FROM idempotency_keys WHERE expires_at < ${now} LIMIT ${batch})`.execute(ctx.db);
    return Number(r.numAffectedRows ?? 0n);
  });
  const risk_buckets = await sweepOldCounters(ctx.db, now, { batch_rows: batch, batches_max: SWEEP_BATCHES_PER_RUN_MAX });
  return { nonces, idempotency_keys, risk_buckets };
}
