import { assert } from "../kernel/assert.ts";
import { maskCard } from "../kernel/mask.ts";
import { beijingCompact } from "./calendar.ts";
import type { WireAnswer } from "./context.ts";
import type { Engine, TxnRecord } from "./engine.ts";
import type { NetworkId } from "./model.ts";
import type { StatementEntry, StatementFaults } from "./statement-faults.ts";

/**
 * Statement files: one per network per settlement day, fixed-width text, one line per successful
 * debit or refund of that day. UnionPay's layout follows the columns of its acquirer files
 * (transaction code, acquirer, forwarder, trace number, time, card, amount, MCC, …, order id, fee,
 * settlement amount, merchant ids); NetsUnion's is the sandbox's own, with a header line.
 * Layouts are documented in docs/sandbox.md; `src/channels` parses them.
 */
interface Column {
  name: string;
  width: number;
  align: "left" | "right";
  pad: " " | "0";
}

const col = (name: string, width: number, align: Column["align"] = "left", pad: Column["pad"] = " "): Column => ({ name, width, align, pad });

export const UNIONPAY_COLUMNS: readonly Column[] = [
  col("txn_code", 3), col("acquirer", 11), col("forwarder", 11), col("trace_no", 6), col("txn_time", 10),
  col("card", 19), col("amount", 12, "right", "0"), col("mcc", 4), col("terminal", 8), col("merchant_id", 15),
  col("network_txn_id", 21), col("order_id", 32), col("fee", 12, "right", "0"), col("settle_amount", 13, "right"),
  col("txn_id", 32), col("sub_merchant_id", 15),
];

export const NETSUNION_COLUMNS: readonly Column[] = [
  col("record_type", 1), col("category", 4), col("network_txn_id", 21), col("txn_id", 32), col("order_id", 32),
  col("agreement_no", 26), col("amount", 15, "right", "0"), col("fee", 15, "right", "0"), col("settle_amount", 16, "right"),
  col("settle_date", 8), col("txn_time", 14), col("card", 19),
];

export function formatLine(columns: readonly Column[], values: Record<string, string>): string {
  return columns
    .map((c) => {
      const value = values[c.name] ?? "";
      assert(value.length <= c.width, `statement column ${c.name} overflows its ${c.width} characters`);
      return c.align === "left" ? value.padEnd(c.width, c.pad) : value.padStart(c.width, c.pad);
    })
    .join(" ");
}

/** A transaction record as a statement entry, before faults. */
function entryOf(record: TxnRecord): StatementEntry {
  assert(record.result.outcome === "ok", "statement lines are successful transactions only");
  const v = record.result.value;
  return {
    kind: record.kind === "refund" ? "refund" : "pay", network_txn_id: v.network_txn_id, txn_id: record.txn_id, order_id: v.order_id ?? "",
    amount_fen: v.amount_fen ?? 0n, fee_fen: v.fee_fen ?? 0n, at: record.created_at, source: "network",
    agreement_no: v.agreement_no ?? "", card_number: v.card_number, trace_no: v.trace_no ?? "",
  };
}

/** What the network pays the PI for a line (negative for a refund): the amount less its fee. */
export function entrySettlementFen(e: Pick<StatementEntry, "kind" | "amount_fen" | "fee_fen">): bigint {
  return e.kind === "refund" ? -e.amount_fen : e.amount_fen - e.fee_fen;
}

function lineValues(e: StatementEntry, pi_id: string, date: string): Record<string, string> {
  const refund = e.kind === "refund";
  const stamp = beijingCompact(e.at);
  return {
    txn_code: refund ? "S30" : "S22", acquirer: pi_id.slice(0, 11), forwarder: "00010000", trace_no: e.trace_no,
    txn_time: stamp.slice(4), card: e.card_number ? maskCard(e.card_number) : "", amount: e.amount_fen.toString(), mcc: "5999",
    terminal: "00000000", merchant_id: pi_id.slice(0, 15), network_txn_id: e.network_txn_id, order_id: e.order_id,
    fee: e.fee_fen.toString(), settle_amount: entrySettlementFen(e).toString(), txn_id: e.txn_id, sub_merchant_id: "",
    record_type: "D", category: refund ? "0121" : "0110", agreement_no: e.agreement_no, settle_date: date.replace(/-/g, ""),
  };
}

/** That day's entries as the network's file shows them (statement faults applied). */
export async function statementEntries(engine: Engine, faults: StatementFaults | null, network: NetworkId, date: string): Promise<StatementEntry[]> {
  let entries = (await engine.statement(network, date)).map(entryOf);
  if (!faults) return entries;
  // `next_day` faults: the previous day's last lines open this file; this day's last lines go to the next.
  const moved_out = Math.min(faults.nextDay(network, date), entries.length);
  entries = entries.slice(0, entries.length - moved_out);
  const previous = previousDate(date);
  const moved_in = faults.nextDay(network, previous);
  if (moved_in > 0) entries = [...(await engine.statement(network, previous)).map(entryOf).slice(-moved_in), ...entries];
  return faults.apply(network, date, entries);
}

function previousDate(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
}

/** What the network settles with the PI for that day: the net of its file. */
export function statementNetFen(entries: readonly StatementEntry[]): bigint {
  return entries.reduce((sum, e) => sum + entrySettlementFen(e), 0n);
}

/** The statement text for one network and settlement day (`YYYY-MM-DD`). */
export async function statementFile(engine: Engine, network: NetworkId, date: string, pi_id: string, faults: StatementFaults | null = null): Promise<string> {
  const entries = await statementEntries(engine, faults, network, date);
  const columns = network === "netsunion" ? NETSUNION_COLUMNS : UNIONPAY_COLUMNS;
  const lines = entries.map((e) => formatLine(columns, { ...lineValues(e, pi_id, date), txn_time: network === "netsunion" ? beijingCompact(e.at) : beijingCompact(e.at).slice(4) }));
  if (network !== "netsunion") return lines.map((line) => `${line}\n`).join("");
  const header = `H ${date.replace(/-/g, "")} ${String(entries.length).padStart(8, "0")} ${statementNetFen(entries).toString().padStart(16, " ")}`;
  return [header, ...lines].map((line) => `${line}\n`).join("");
}

/**
 * A `bad_signature` statement fault: the signed answer is altered after signing (one character
 * inserted after `marker`), as a file changed in transit would be. It still parses; it no longer
 * verifies.
 */
export function spoilSignature(answer: WireAnswer, marker: string): WireAnswer {
  if (answer.kind !== "answer") return answer;
  const at = answer.body.indexOf(marker);
  assert(at >= 0, `signed answer lacks ${marker}`);
  const cut = at + marker.length;
  return { ...answer, body: `${answer.body.slice(0, cut)}X${answer.body.slice(cut)}` };
}
