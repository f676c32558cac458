import { sql } from "kysely";
import type { Ctx } from "../context.ts";
import { LIMITS } from "../kernel/limits.ts";

/** Deletes expired nonces and idempotency keys, a bounded batch per table per call. */
export async function sweepExpired(ctx: Pick<Ctx, "db" | "clock">): Promise<{ nonces: number; idempotency_keys: number }> {
  const now = ctx.clock.now();
  const nonces = await sql`DELETE FROM api_nonces WHERE (merchant_id, nonce) IN (
      SELECT merchant_id, nonce FROM api_nonces WHERE expires_at < ${now} LIMIT ${LIMITS.sweep_batch_rows_max})`.execute(ctx.db);
  const keys = await sql`DELETE FROM idempotency_keys WHERE (merchant_id, idem_key) IN (
      SELECT merchant_id, idem_key FROM idempotency_keys WHERE expires_at < ${now} LIMIT ${LIMITS.sweep_batch_rows_max})`.execute(ctx.db);
  return { nonces: Number(nonces.numAffectedRows ?? 0n), idempotency_keys: Number(keys.numAffectedRows ?? 0n) };
}
