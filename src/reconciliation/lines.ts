import { sql, type Kysely } from "kysely";
import type { StatementRecord } from "../channels/index.ts";
import type { Database } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { RECONCILIATION_LIMITS } from "./limits.ts";
import { batchLines, classified, type RunKey } from "./match.ts";

/**
 * Loads a file's records into `reconciliation_lines` as they stream in: one INSERT per batch of
 * `line_batch_max` lines (the batch travels as one JSON parameter, which both engines unpack with
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

interface LineJson {
  line_no: number;
  kind: "pay" | "refund";
  network_txn_id: string;
  txn_id: string;
  order_id: string;
  amount: string;
  fee: string;
  settle_amount: string;
}

async function insertBatch(db: Kysely<Database>, run: RunKey, batch: LineJson[]): Promise<void> {
  await sql`
    INSERT INTO reconciliation_lines
      (reconciliation_id, line_no, kind, network_txn_id, txn_id, order_id, amount, fee, settle_amount, result, platform_amount)
    SELECT ${run.reconciliation_id}, c.line_no, c.kind, c.network_txn_id, c.txn_id, c.order_id, c.amount, c.fee, c.settle_amount,
      c.result, c.platform_amount
    FROM (${classified(batchLines(JSON.stringify(batch)), run.channel_id, run.settlement_date)}) c`.execute(db);
}

export async function loadLines(
  db: Kysely<Database>,
  run: RunKey,
  records: Iterable<StatementRecord> | AsyncIterable<StatementRecord>,
  progress: (lines: number) => void,
): Promise<LoadedLines> {
  await db.deleteFrom("reconciliation_lines").where("reconciliation_id", "=", run.reconciliation_id).execute();
  const writer = new BatchWriter<LineJson[]>((batch) => insertBatch(db, run, batch));
  let batch: LineJson[] = [];
  let line_count = 0;
  let file_net = 0n;
  try {
    for await (const r of records) {
      line_count += 1;
      assert(line_count <= RECONCILIATION_LIMITS.file_lines_max, `statement file longer than ${RECONCILIATION_LIMITS.file_lines_max} lines`);
      file_net += r.settlement_amount_fen;
      batch.push({
        line_no: line_count, kind: r.kind, network_txn_id: r.network_txn_id, txn_id: r.txn_id, order_id: r.order_id,
        amount: r.amount_fen.toString(), fee: r.fee_fen.toString(), settle_amount: r.settlement_amount_fen.toString(),
      });
      if (batch.length >= RECONCILIATION_LIMITS.line_batch_max) {
        await writer.write(batch);
        batch = [];
        progress(line_count);
      }
    }
    if (batch.length > 0) await writer.write(batch);
  } finally {
    await writer.drain();
  }
  progress(line_count);
  await sql`ANALYZE reconciliation_lines`.execute(db);
  return { line_count, file_net };
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
