import type { Kysely } from "kysely";
import type { Database, PayoutBatchRow, PayoutRow, PayoutStatus } from "../db/index.ts";
import { zodToPaycoreError } from "../api/errors.ts";
import { canonicalJson } from "../kernel/canonical-json.ts";
import { PaycoreError, notFound, type ErrorCode } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import type { PayoutDeps } from "./deps.ts";
import { sendPayout } from "./outcomes.ts";
import { createPayout } from "./payouts.ts";
import { PayoutCreate } from "./wire.ts";

/**
 * `POST /v1/payout-batches`: up to 1,000 payouts in one request. Each line is validated and
 * reserved on its own (one reservation, one transaction per line, exactly as `POST /v1/payouts`),
 * so a bad or unaffordable line is rejected alone and the others go. Lines are recorded first;
 * then the messages of the lines a rail can take now are sent, a few at a time.
 *
 * Crash safety and repeats: the batch row is written before any line, each line is a payout keyed
 * by its `out_payout_no` (idempotent), and the per-line results are stored when the last line is
 * done. A repeat of the same request (same `out_batch_no`, same body) answers the stored batch; one
 * that finds the batch unfinished (the first request died midway) runs the lines again, which
 * creates only the payouts that are missing. Another body with the same `out_batch_no` is a conflict.
 */
export type LineResult = { out_payout_no: string | null; payout_id: string; status: 200 | 201 } | { out_payout_no: string | null; error: { code: ErrorCode; message: string; field?: string } };

export interface BatchView {
  batch: PayoutBatchRow;
  /** In line order; a line's payout as it is now, or why the line was rejected. */
  lines: ({ line: number; out_payout_no: string | null; payout: PayoutRow } | { line: number; out_payout_no: string | null; error: { code: ErrorCode; message: string; field?: string } })[];
  counts: Record<PayoutStatus | "rejected", number>;
}

/** How many messages a batch sends at once (the rest of the lines wait for a free slot). */
const SEND_CONCURRENCY = 8;

/** A line as `POST /v1/payouts` reads its body; a problem names the field as `payouts.<line>.<field>`. */
function parseLine(line: unknown, index: number) {
  const parsed = PayoutCreate.safeParse(line);
  if (parsed.success) return parsed.data;
  if (line === null || typeof line !== "object" || Array.isArray(line)) throw new PaycoreError("invalid_request", `payouts.${index}: must be an object`, `payouts.${index}`);
  throw zodToPaycoreError(parsed.error, `payouts.${index}`);
}

/** The fingerprint a batch keeps of its lines: a repeat with other lines under the same `out_batch_no` is a conflict. */
export function batchRequestHash(pd: PayoutDeps, payouts: readonly unknown[]): string {
  return pd.ctx.box.fingerprint("request", canonicalJson({ payouts }));
}

/**
 * What a batch's lines would give before anything runs: the lines that would be rejected for
 * their form (each with its field, as the batch would answer), and the sum in fen of the others.
 * Balance, limits and routing are judged only when the lines run.
 */
export function checkBatchLines(payouts: readonly unknown[]): { rejected: { line: number; out_payout_no: string | null; error: { code: ErrorCode; message: string; field?: string } }[]; total_amount: bigint } {
  const rejected: { line: number; out_payout_no: string | null; error: { code: ErrorCode; message: string; field?: string } }[] = [];
  const seen = new Map<string, number>();
  let total_amount = 0n;
  for (const [index, line] of payouts.entries()) {
    try {
      const parsed = parseLine(line, index);
      const first = seen.get(parsed.out_payout_no);
      if (first !== undefined) throw new PaycoreError("invalid_request", `payouts.${index}.out_payout_no: repeats line ${first} of this batch`, `payouts.${index}.out_payout_no`);
      seen.set(parsed.out_payout_no, index);
      total_amount += BigInt(parsed.amount);
    } catch (err) {
      if (!(err instanceof PaycoreError)) throw err;
      rejected.push({ line: index, out_payout_no: outNoOf(line), error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } });
    }
  }
  return { rejected, total_amount };
}

export async function createPayoutBatch(
  pd: PayoutDeps,
  merchant_id: string,
  input: { out_batch_no: string; payouts: readonly unknown[] },
  onProgress?: (done: number, total: number) => void,
): Promise<{ status: 200 | 201; view: BatchView }> {
  const request_hash = batchRequestHash(pd, input.payouts);
  const now = pd.ctx.clock.now();
  let batch = await findBatch(pd.ctx.db, merchant_id, input.out_batch_no);
  let status: 200 | 201 = 200;
  if (!batch) {
    const row: PayoutBatchRow = { batch_id: newId("pob", now.getTime()), merchant_id, out_batch_no: input.out_batch_no, request_hash, line_count: input.payouts.length, results: JSON.stringify([]), created_at: now };
    const inserted = await pd.ctx.db.insertInto("payout_batches").values(row).onConflict((oc) => oc.columns(["merchant_id", "out_batch_no"]).doNothing()).returning("batch_id").executeTakeFirst();
    batch = inserted ? row : await findBatch(pd.ctx.db, merchant_id, input.out_batch_no);
    if (inserted) status = 201;
  }
  if (!batch) throw new PaycoreError("internal", "a concurrent batch with this out_batch_no vanished");
  if (batch.request_hash !== request_hash) throw new PaycoreError("duplicate_out_trade_no", "out_batch_no was already used with other payouts");
  if (readResults(batch).length < batch.line_count) {
    const results = await runLines(pd, merchant_id, batch.batch_id, input.payouts, onProgress);
    await pd.ctx.db.updateTable("payout_batches").set({ results: JSON.stringify(results) }).where("batch_id", "=", batch.batch_id).execute();
  }
  return { status, view: await getPayoutBatch(pd.ctx.db, merchant_id, batch.batch_id) };
}

async function runLines(pd: PayoutDeps, merchant_id: string, batch_id: string, lines: readonly unknown[], onProgress?: (done: number, total: number) => void): Promise<LineResult[]> {
  const results: LineResult[] = [];
  const to_send: PayoutRow[] = [];
  const seen = new Map<string, number>();
  for (const [index, line] of lines.entries()) {
    const out_payout_no = outNoOf(line);
    try {
      const parsed = parseLine(line, index);
      const first = seen.get(parsed.out_payout_no);
      if (first !== undefined) throw new PaycoreError("invalid_request", `payouts.${index}.out_payout_no: repeats line ${first} of this batch`, `payouts.${index}.out_payout_no`);
      seen.set(parsed.out_payout_no, index);
      const answer = await createPayout(pd, merchant_id, parsed, batch_id, false);
      results.push({ out_payout_no, payout_id: answer.payout.payout_id, status: answer.status });
      if (answer.status === 201 && answer.payout.status === "processing") to_send.push(answer.payout);
    } catch (err) {
      if (!(err instanceof PaycoreError) || err.httpStatus >= 500) throw err;
      results.push({ out_payout_no, error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } });
    }
    onProgress?.(index + 1, lines.length);
  }
  // The intents are committed: the messages leave now, outside any transaction. One that fails to
  // leave is a processing payout the sweeper asks about and resends with the same message id.
  let next = 0;
  const worker = async () => {
    while (next < to_send.length) {
      const row = to_send[next++]!;
      await sendPayout(pd, row).catch((err: Error) => pd.ctx.log.warn({ payout_id: row.payout_id, err: err.message }, "batch payout send failed; the sweeper retries"));
    }
  };
  await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, to_send.length) }, worker));
  return results;
}

function outNoOf(line: unknown): string | null {
  const v = line && typeof line === "object" ? (line as Record<string, unknown>).out_payout_no : undefined;
  return typeof v === "string" && v.length <= 64 ? v : null;
}

function readResults(batch: PayoutBatchRow): LineResult[] {
  const r = typeof batch.results === "string" ? (JSON.parse(batch.results) as unknown) : batch.results;
  return Array.isArray(r) ? (r as LineResult[]) : [];
}

export async function findBatch(db: Kysely<Database>, merchant_id: string, out_batch_no: string): Promise<PayoutBatchRow | undefined> {
  return db.selectFrom("payout_batches").selectAll().where("merchant_id", "=", merchant_id).where("out_batch_no", "=", out_batch_no).executeTakeFirst();
}

/** A batch with each line's payout as it is now (merchant_id null: an operator's view of any merchant ID's batch). */
export async function getPayoutBatch(db: Kysely<Database>, merchant_id: string | null, batch_id: string): Promise<BatchView> {
  let q = db.selectFrom("payout_batches").selectAll().where("batch_id", "=", batch_id);
  if (merchant_id !== null) q = q.where("merchant_id", "=", merchant_id);
  const batch = await q.executeTakeFirst();
  if (!batch) throw notFound("payout batch");
  const results = readResults(batch);
  const ids = results.flatMap((r) => ("payout_id" in r ? [r.payout_id] : []));
  const payouts = new Map<string, PayoutRow>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db.selectFrom("payouts").selectAll().where("payout_id", "in", ids.slice(i, i + 500)).execute();
    for (const p of rows) payouts.set(p.payout_id, p);
  }
  const counts: BatchView["counts"] = { queued: 0, processing: 0, succeeded: 0, failed: 0, returned: 0, rejected: 0 };
  const lines = results.map((r, line) => {
    if ("error" in r) {
      counts.rejected++;
      return { line, out_payout_no: r.out_payout_no, error: r.error };
    }
    const payout = payouts.get(r.payout_id)!;
    counts[payout.status]++;
    return { line, out_payout_no: r.out_payout_no, payout };
  });
  return { batch, lines, counts };
}

export interface BatchSummary {
  batch: PayoutBatchRow;
  /** Lines done so far: all of them once the batch is finished; while it runs, the payouts made. */
  lines_done: number;
  finished: boolean;
  /** Lines whose outcome is final (payout succeeded, failed or returned; line rejected). */
  lines_final: number;
}

/** Payout statuses after which a batch line needs nothing more (a succeeded one may still be returned, but it has run). */
const FINAL_STATUSES: readonly PayoutStatus[] = ["succeeded", "failed", "returned"];

/** One count over the batch's payouts (index payouts_batch_idx), plus the rejected lines once they are stored. */
async function finalLines(db: Kysely<Database>, batch: PayoutBatchRow): Promise<number> {
  const row = await db
    .selectFrom("payouts")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("batch_id", "=", batch.batch_id)
    .where("status", "in", FINAL_STATUSES)
    .executeTakeFirstOrThrow();
  const rejected = readResults(batch).filter((r) => "error" in r).length;
  return Number(row.n) + rejected;
}

export async function listPayoutBatches(
  db: Kysely<Database>,
  q: { merchant_id?: string | undefined; out_batch_no?: string | undefined; cursor?: string | undefined; limit: number },
): Promise<{ data: BatchSummary[]; next_cursor: string | null }> {
  let query = db.selectFrom("payout_batches").selectAll().orderBy("batch_id", "desc").limit(q.limit + 1);
  if (q.merchant_id) query = query.where("merchant_id", "=", q.merchant_id);
  if (q.out_batch_no) query = query.where("out_batch_no", "=", q.out_batch_no);
  if (q.cursor) query = query.where("batch_id", "<", q.cursor);
  const rows = await query.execute();
  const data = rows.slice(0, q.limit);
  const summaries: BatchSummary[] = [];
  for (const batch of data) {
    const finished = readResults(batch).length >= batch.line_count;
    const made = finished ? batch.line_count : Number((await db.selectFrom("payouts").select((eb) => eb.fn.countAll<string>().as("n")).where("batch_id", "=", batch.batch_id).executeTakeFirstOrThrow()).n);
    summaries.push({ batch, lines_done: made, finished, lines_final: await finalLines(db, batch) });
  }
  return { data: summaries, next_cursor: rows.length > q.limit ? data.at(-1)!.batch_id : null };
}
