import { assert } from "../kernel/assert.ts";
import { maskCard } from "../kernel/mask.ts";
import { beijingCompact } from "./calendar.ts";
import type { Engine, TxnRecord } from "./engine.ts";
import type { NetworkId } from "./model.ts";

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

function lineValues(record: TxnRecord, pi_id: string): Record<string, string> {
  assert(record.result.outcome === "ok", "statement lines are successful transactions only");
  const v = record.result.value;
  const amount = v.amount_fen ?? 0n;
  const fee = v.fee_fen ?? 0n;
  const refund = record.kind === "refund";
  const stamp = beijingCompact(record.created_at);
  return {
    txn_code: refund ? "S30" : "S22", acquirer: pi_id.slice(0, 11), forwarder: "00010000", trace_no: v.trace_no ?? "",
    txn_time: stamp.slice(4), card: v.card_number ? maskCard(v.card_number) : "", amount: amount.toString(), mcc: "5999",
    terminal: "00000000", merchant_id: pi_id.slice(0, 15), network_txn_id: v.network_txn_id, order_id: v.order_id ?? "",
    fee: fee.toString(), settle_amount: (refund ? -amount : amount - fee).toString(), txn_id: record.txn_id, sub_merchant_id: "",
    record_type: "D", category: refund ? "0121" : "0110", agreement_no: v.agreement_no ?? "", settle_date: (v.settlement_date ?? "").replace(/-/g, ""),
  };
}

/** The statement text for one network and settlement day (`YYYY-MM-DD`). */
export function statementFile(engine: Engine, network: NetworkId, date: string, pi_id: string): string {
  const records = engine.statement(network, date);
  const columns = network === "netsunion" ? NETSUNION_COLUMNS : UNIONPAY_COLUMNS;
  const lines = records.map((record) => formatLine(columns, { ...lineValues(record, pi_id), txn_time: network === "netsunion" ? beijingCompact(record.created_at) : beijingCompact(record.created_at).slice(4) }));
  if (network !== "netsunion") return lines.map((line) => `${line}\n`).join("");
  let net = 0n;
  for (const record of records) if (record.result.outcome === "ok") {
    const amount = record.result.value.amount_fen ?? 0n;
    net += record.kind === "refund" ? -amount : amount - (record.result.value.fee_fen ?? 0n);
  }
  const header = `H ${date.replace(/-/g, "")} ${String(records.length).padStart(8, "0")} ${net.toString().padStart(16, " ")}`;
  return [header, ...lines].map((line) => `${line}\n`).join("");
}
