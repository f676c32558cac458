import { setTimeout as sleep } from "node:timers/promises";
import type { Ctx } from "../context.ts";
import { sha256Hex } from "../kernel/crypto/index.ts";
import { PaycoreError } from "../kernel/errors.ts";
import { LIMITS } from "../kernel/limits.ts";

export interface StoredResponse {
  status: number;
  body: string;
}

/**
 * `Idempotency-Key` for any merchant POST (docs/api-conventions.md): the first request with a key runs and its
 * answer is stored; a repeat with the same body gets that answer again (status and body); a
 * repeat with another body is `idempotency_conflict`. Two concurrent requests with one key:
 * the database's primary key lets one run; the other waits for its answer. A 5xx answer is not
 * stored, so the client can retry. Keys live 24 h.
 */
export async function runIdempotent(
  ctx: Ctx,
  scope: { merchant_id: string; key: string; method: string; path: string; body: string },
  execute: () => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  if (scope.key.length === 0 || scope.key.length > LIMITS.idempotency_key_chars_max || !/^[\x21-\x7e]+$/.test(scope.key)) {
    throw new PaycoreError("invalid_request", `Idempotency-Key: 1..${LIMITS.idempotency_key_chars_max} printable characters`, "Idempotency-Key");
  }
  const request_hash = sha256Hex(`${scope.method}\n${scope.path}\n${scope.body}`);
  const deadline_ms = Date.now() + LIMITS.idempotency_wait_ms_max;
  for (let attempt = 0; ; attempt++) {
    const claimed = await claim(ctx, scope, request_hash);
    if (claimed) return { ...(await runClaimed(ctx, scope, execute)), replayed: false };
    const row = await ctx.db
      .selectFrom("idempotency_keys")
      .selectAll()
      .where("merchant_id", "=", scope.merchant_id)
      .where("idem_key", "=", scope.key)
      .executeTakeFirst();
    if (!row) continue; // released or swept between our insert and select: try to claim again
    if (row.request_hash !== request_hash) {
      throw new PaycoreError("idempotency_conflict", "this Idempotency-Key was used with another request body");
    }
    if (row.state === "done" && row.response_status !== null && row.response_body !== null) {
      return { status: row.response_status, body: row.response_body, replayed: true };
    }
    if (Date.now() > deadline_ms) {
      throw new PaycoreError("idempotency_conflict", "a request with this Idempotency-Key is still in progress; retry later");
    }
    await sleep(Math.min(25 * 2 ** Math.min(attempt, 4), 400));
  }
}

async function claim(ctx: Ctx, scope: { merchant_id: string; key: string }, request_hash: string): Promise<boolean> {
  const now = ctx.clock.now();
  const abandoned_before = new Date(now.getTime() - LIMITS.idempotency_in_progress_abandon_ms);
  const row = await ctx.db
    .insertInto("idempotency_keys")
    .values({
      merchant_id: scope.merchant_id,
      idem_key: scope.key,
      request_hash,
      state: "in_progress",
      response_status: null,
      response_body: null,
      created_at: now,
      expires_at: new Date(now.getTime() + LIMITS.idempotency_ttl_ms),
    })
    // An expired key, or one whose first request died mid-way long ago, may be taken over.
    .onConflict((oc) =>
      oc
        .columns(["merchant_id", "idem_key"])
        .doUpdateSet({ request_hash, state: "in_progress", response_status: null, response_body: null, created_at: now, expires_at: new Date(now.getTime() + LIMITS.idempotency_ttl_ms) })
        .where((eb) =>
          eb.or([
            eb("idempotency_keys.expires_at", "<=", now),
            eb.and([eb("idempotency_keys.state", "=", "in_progress"), eb("idempotency_keys.created_at", "<", abandoned_before), eb("idempotency_keys.request_hash", "=", request_hash)]),
          ]),
        ),
    )
    .returning("idem_key")
    .executeTakeFirst();
  return row !== undefined;
}

async function runClaimed(ctx: Ctx, scope: { merchant_id: string; key: string }, execute: () => Promise<StoredResponse>): Promise<StoredResponse> {
  let response: StoredResponse;
  try {
    response = await execute();
  } catch (err) {
    await release(ctx, scope);
    throw err;
  }
  if (response.status >= 500) {
    await release(ctx, scope);
    return response;
  }
  await ctx.db
    .updateTable("idempotency_keys")
    .set({ state: "done", response_status: response.status, response_body: response.body })
    .where("merchant_id", "=", scope.merchant_id)
    .where("idem_key", "=", scope.key)
    .execute();
  return response;
}

async function release(ctx: Ctx, scope: { merchant_id: string; key: string }): Promise<void> {
  await ctx.db.deleteFrom("idempotency_keys").where("merchant_id", "=", scope.merchant_id).where("idem_key", "=", scope.key).where("state", "=", "in_progress").execute();
}
