import { sql, type Kysely } from "kysely";
import type { StatementRecord } from "../channels/index.ts";
import type { Database } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { RECONCILIATION_LIMITS } from "./limits.ts";
import { batchLines, classified, type RunKey } from "./match.ts";

/**
 * Loads a file's records into `reconciliation_lines` as they stream in: one INSERT per batch of
 * `line_batch_max` lines (the batch travels as one parameter, the UTF-8 bytes of a compact JSON
 * array written into a buffer reused from batch to batch, which both engines unpack with
 * `json_to_recordset`), so memory stays flat whatever the file's size. The INSERT classifies the
 * batch on its way in (src/reconciliation/match.ts: one index lookup per line into the payments,
 * refunds or payouts) and keeps each line's result with it. One batch is in the
 * database while the next is parsed (at most two batches in memory): the file's parsing and the
 * database's inserting overlap instead of taking turns. Then ANALYZE, so that matching is planned
 * on what was just loaded (a million new rows), not on the table's statistics of before.
 */
export interface LoadedLines {
  line_count: number;
  /** What the file says the network owes for the day: the sum of its settlement amounts. */
  file_net: bigint;
}

async function insertBatch(db: Kysely<Database>, run: RunKey, batch: Uint8Array): Promise<void> {
  await sql`
    INSERT INTO reconciliation_lines
      (reconciliation_id, line_no, kind, network_txn_id, txn_id, order_id, amount, fee, settle_amount, result, platform_amount)
    SELECT ${run.reconciliation_id}, c.line_no, c.kind, c.network_txn_id, c.txn_id, c.order_id, c.amount, c.fee, c.settle_amount,
      c.result, c.platform_amount
    FROM (${classified(batchLines(batch), run.channel_id, run.settlement_date)}) c`.execute(db);
}

export async function loadLines(
  db: Kysely<Database>,
  run: RunKey,
  records: Iterable<StatementRecord> | AsyncIterable<StatementRecord>,
  progress: (lines: number) => void,
): Promise<LoadedLines> {
  await db.deleteFrom("reconciliation_lines").where("reconciliation_id", "=", run.reconciliation_id).execute();
  // Two buffers, reused batch after batch: one in the database while the other fills.
  const buffers = [new JsonBatch(), new JsonBatch()];
  const writer = new BatchWriter<Uint8Array>((batch) => insertBatch(db, run, batch));
  let batch = buffers[0]!;
  let line_count = 0;
  let file_net = 0n;
  try {
    for await (const r of records) {
      line_count += 1;
      assert(line_count <= RECONCILIATION_LIMITS.file_lines_max, `statement file longer than ${RECONCILIATION_LIMITS.file_lines_max} lines`);
      file_net += r.settlement_amount_fen;
      batch.add(line_count, r);
      if (batch.lines >= RECONCILIATION_LIMITS.line_batch_max) {
        await writer.write(batch.bytes());
        batch = batch === buffers[0] ? buffers[1]! : buffers[0]!;
        batch.clear();
        progress(line_count);
      }
    }
    if (batch.lines > 0) await writer.write(batch.bytes());
  } finally {
    await writer.drain();
  }
  progress(line_count);
  await sql`ANALYZE reconciliation_lines`.execute(db);
  return { line_count, file_net };
}

/** A JSON string as written in a batch: ids are mostly plain ASCII, written as they are. */
const PLAIN = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;
const jsonText = (s: string) => (PLAIN.test(s) ? `"${s}"` : JSON.stringify(s));

/**
 * One batch's lines as the UTF-8 bytes of a JSON array (the keys of `batchLines`), written line
 * by line into a buffer that is kept for the next batch: no object per line, no batch-sized
 * string (which V8 would keep in its old generation until a full collection).
 */
class JsonBatch {
  private buf = Buffer.allocUnsafe(2 * 1024 * 1024);
  private used = 0;
  lines = 0;

  add(line_no: number, r: StatementRecord): void {
    const text = `${this.lines === 0 ? "[" : ","}{"n":${line_no},"k":"${r.kind}","x":${jsonText(r.network_txn_id)},"t":${jsonText(r.txn_id)},"o":${jsonText(r.order_id)},"a":${r.amount_fen},"f":${r.fee_fen},"s":${r.settlement_amount_fen}}`;
    this.reserve(text.length * 3 + 1);
    this.used += this.buf.write(text, this.used, "utf8");
    this.lines += 1;
  }

  /** The batch's bytes (a view of the buffer: valid until `clear`). */
  bytes(): Uint8Array {
    this.reserve(1);
    this.buf[this.used] = 0x5d; // ]
    return this.buf.subarray(0, this.used + 1);
  }

  clear(): void {
    this.used = 0;
    this.lines = 0;
  }

  private reserve(bytes: number): void {
    if (this.used + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + bytes));
    this.buf.copy(grown, 0, 0, this.used);
    this.buf = grown;
  }
}

/**
 * Keeps at most one write in flight: `write` waits for the previous one (and throws its error),
 * then starts this one without waiting for it; `drain` waits for the last. A failed write is
 * held until then, never left as an unhandled rejection.
 */
class BatchWriter<T> {
  private in_flight: Promise<unknown> | null = null;

  constructor(private readonly send: (batch: T) => Promise<void>) {}

  async write(batch: T): Promise<void> {
    await this.drain();
    this.in_flight = this.send(batch).then(
      () => null,
      (error: unknown) => ({ error }),
    );
  }

  async drain(): Promise<void> {
    const pending = this.in_flight;
    this.in_flight = null;
    const outcome = (await pending) as { error: unknown } | null;
    if (outcome) throw outcome.error;
  }
}
