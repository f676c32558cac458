import type { Kysely } from "kysely";
import type { Database, ExceptionKind, ExceptionStatus, ReconciliationExceptionRow, ReconciliationResultRow, ReconciliationRow } from "../db/index.ts";
import { RECONCILIATION_LIMITS } from "./limits.ts";
import { progressView, type ProgressView } from "./progress.ts";

export const RESULT_NAMES = ["matched", "network_only", "platform_only", "amount_mismatch", "status_mismatch", "fee_mismatch"] as const;
export type Counts = Record<(typeof RESULT_NAMES)[number] | "buffered", number>;

export interface ReconciliationView {
  reconciliation_id: string;
  channel: string;
  date: string;
  status: ReconciliationRow["status"];
  counts: Counts;
  /** Per result: signed amounts (refunds negative) on the network's side and paycore's. */
  amounts: Record<string, { network: bigint; platform: bigint }>;
  line_count: number;
  file_net: bigint;
  run_count: number;
  settled_amount: bigint | null;
  settled_at: string | null;
  open_exceptions: number;
  started_at: string;
  finished_at: string | null;
  /** The current or last attempt's phase and lines (progress.ts), and the error that stopped it. */
  progress: ProgressView;
  error: string | null;
}

function view(run: ReconciliationRow, results: ReconciliationResultRow[], open_exceptions: number): ReconciliationView {
  const counts = { matched: 0, network_only: 0, platform_only: 0, amount_mismatch: 0, status_mismatch: 0, fee_mismatch: 0, buffered: 0 } as Counts;
  const amounts: ReconciliationView["amounts"] = {};
  for (const r of results) {
    counts[r.result] = Number(r.item_count);
    amounts[r.result] = { network: r.network_amount, platform: r.platform_amount };
  }
  return {
    reconciliation_id: run.reconciliation_id, channel: run.channel_id, date: run.settlement_date, status: run.status, counts, amounts,
    line_count: run.line_count, file_net: run.file_net, run_count: run.run_count, settled_amount: run.settled_amount,
    settled_at: run.settled_at?.toISOString() ?? null, open_exceptions, started_at: run.started_at.toISOString(), finished_at: run.finished_at?.toISOString() ?? null,
    ...progressView(run),
  };
}

export async function reconciliationViews(db: Kysely<Database>, runs: ReconciliationRow[]): Promise<ReconciliationView[]> {
  if (runs.length === 0) return [];
  const ids = runs.map((r) => r.reconciliation_id);
  const results = await db.selectFrom("reconciliation_results").selectAll().where("reconciliation_id", "in", ids).execute();
  const open = await db
    .selectFrom("reconciliation_exceptions")
    .select(["channel_id", "settlement_date", (eb) => eb.fn.countAll<string>().as("n")])
    .where("status", "=", "open")
    .where("reconciliation_id", "in", ids)
    .groupBy(["channel_id", "settlement_date"])
    .execute();
  return runs.map((run) =>
    view(
      run,
      results.filter((r) => r.reconciliation_id === run.reconciliation_id),
      Number(open.find((o) => o.channel_id === run.channel_id && o.settlement_date === run.settlement_date)?.n ?? 0),
    ),
  );
}

export async function listReconciliations(db: Kysely<Database>, f: { channel?: string | undefined; date?: string | undefined; cursor?: string | undefined; limit: number }) {
  let q = db.selectFrom("reconciliations").selectAll().orderBy("reconciliation_id", "desc").limit(f.limit + 1);
  if (f.channel) q = q.where("channel_id", "=", f.channel);
  if (f.date) q = q.where("settlement_date", "=", f.date);
  if (f.cursor) q = q.where("reconciliation_id", "<", f.cursor);
  return q.execute();
}

export async function getReconciliation(db: Kysely<Database>, reconciliation_id: string): Promise<ReconciliationRow | undefined> {
  return db.selectFrom("reconciliations").selectAll().where("reconciliation_id", "=", reconciliation_id).executeTakeFirst();
}

export interface ExceptionFilter {
  status?: ExceptionStatus | undefined;
  kind?: ExceptionKind | undefined;
  channel?: string | undefined;
  date?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

export async function listExceptions(db: Kysely<Database>, f: ExceptionFilter): Promise<ReconciliationExceptionRow[]> {
  let q = db.selectFrom("reconciliation_exceptions").selectAll().orderBy("exception_id", "desc").limit(f.limit + 1);
  // Buffered records are not exceptions yet: listed only when asked for.
  q = f.status ? q.where("status", "=", f.status) : q.where("status", "<>", "buffered");
  if (f.kind) q = q.where("kind", "=", f.kind);
  if (f.channel) q = q.where("channel_id", "=", f.channel);
  if (f.date) q = q.where("settlement_date", "=", f.date);
  if (f.cursor) q = q.where("exception_id", "<", f.cursor);
  return q.execute();
}

export function exceptionToWire(e: ReconciliationExceptionRow) {
  return {
    exception_id: e.exception_id, kind: e.kind, channel: e.channel_id, date: e.settlement_date, payment_id: e.payment_id,
    refund_id: e.refund_id, payout_id: e.payout_id, network_txn_id: e.network_txn_id, platform_amount: e.platform_amount,
    network_amount: e.network_amount, platform_fee: e.platform_fee, network_fee: e.network_fee, platform_status: e.platform_status,
    status: e.status, due_date: e.due_date, resolution: e.resolution, resolution_note: e.resolution_note, resolved_by: e.resolved_by,
    resolved_at: e.resolved_at?.toISOString() ?? null, pending_action: e.pending_action, proposal_id: e.proposal_id,
    reconciliation_id: e.reconciliation_id, created_at: e.created_at.toISOString(),
  };
}

function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? "" : String(value);
  if (/^-?\d+$/.test(text)) return text;
  // Quote everything that could break a row or start a spreadsheet formula.
  return /[",\n\r]|^[=+\-@\t]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One channel and day as CSV: a summary row per result, then every exception. */
export async function reportCsv(db: Kysely<Database>, run: ReconciliationRow): Promise<string> {
  const [v] = await reconciliationViews(db, [run]);
  const rows: string[] = ["section,channel,date,result,count,network_amount_fen,platform_amount_fen"];
  for (const name of [...RESULT_NAMES, "buffered"] as const) {
    const a = v!.amounts[name];
    rows.push(["summary", run.channel_id, run.settlement_date, name, v!.counts[name], a?.network ?? 0n, a?.platform ?? 0n].map(csvCell).join(","));
  }
  rows.push("");
  rows.push("section,exception_id,kind,status,payment_id,refund_id,network_txn_id,platform_amount_fen,network_amount_fen,platform_fee_fen,network_fee_fen,resolution,resolved_by,note");
  const exceptions = await db
    .selectFrom("reconciliation_exceptions")
    .selectAll()
    .where("channel_id", "=", run.channel_id)
    .where("settlement_date", "=", run.settlement_date)
    .orderBy("exception_id")
    .limit(RECONCILIATION_LIMITS.csv_rows_max)
    .execute();
  for (const e of exceptions) {
    rows.push(
      ["exception", e.exception_id, e.kind, e.status, e.payment_id, e.refund_id, e.network_txn_id, e.platform_amount, e.network_amount, e.platform_fee, e.network_fee, e.resolution, e.resolved_by, e.resolution_note]
        .map(csvCell)
        .join(","),
    );
  }
  return `${rows.join("\n")}\n`;
}
