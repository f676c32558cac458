import { RAILS, type Rail } from "../kernel/cnaps/hours.ts";
import type { AgreementChannelId, StatementRecord } from "./types.ts";

/** Whose statement files paycore reads: the agreement networks' and the CNAPS rails' (payouts). */
export type StatementChannelId = AgreementChannelId | Rail;

export function isRail(channel_id: string): channel_id is Rail {
  return (RAILS as readonly string[]).includes(channel_id);
}

/** Fixed-width statement lines: columns of known widths separated by one space. */
export function sliceColumns(line: string, widths: readonly number[]): string[] | null {
  const expected = widths.reduce((sum, w) => sum + w, 0) + widths.length - 1;
  if (line.length !== expected) return null;
  const out: string[] = [];
  let at = 0;
  for (const width of widths) {
    out.push(line.slice(at, at + width).trim());
    at += width + 1;
  }
  return out;
}

export function parseFen(text: string): bigint | null {
  return /^-?\d{1,18}$/.test(text) ? BigInt(text) : null;
}


const NETSUNION_WIDTHS = [1, 4, 21, 32, 32, 26, 15, 15, 16, 8, 14, 19] as const;
const UNIONPAY_WIDTHS = [3, 11, 11, 6, 10, 19, 12, 4, 8, 15, 21, 32, 12, 13, 32, 15] as const;

/**
 * A statement file read line by line (flat memory, whatever the file's size): `line` answers the
 * record a line holds, null for a header, and throws `StatementFormatError` on a line that is off;
 * `finish` checks what the file said about itself (NetsUnion's header: line count and net).
 */
export interface StatementParser {
  line(text: string): StatementRecord | null;
  finish(): void;
}

export class StatementFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StatementFormatError";
  }
}

function fen(text: string, what: string, line_no: number): bigint {
  const value = parseFen(text);
  if (value === null) throw new StatementFormatError(`line ${line_no}: ${what} is not an amount in fen`);
  return value;
}

/**
 * A file whose first line is a header stating its record count and net (the sum of settlement
 * amounts): `header` reads it (null when it is not one), `detail` reads every other line; the
 * totals are checked at the end.
 */
function headedParser(
  name: string,
  header: (text: string) => { count: number; net: bigint } | null,
  detail: (text: string, line_no: number) => StatementRecord,
): StatementParser {
  let line_no = 0;
  let stated: { count: number; net: bigint } | null = null;
  let count = 0;
  let net = 0n;
  return {
    line(text) {
      line_no += 1;
      if (line_no === 1) {
        stated = header(text);
        if (!stated) throw new StatementFormatError(`line 1: not a ${name} statement header`);
        return null;
      }
      const record = detail(text, line_no);
      count += 1;
      net += record.settlement_amount_fen;
      return record;
    },
    finish() {
      if (!stated) throw new StatementFormatError(`empty file: no ${name} header`);
      if (stated.count !== count || stated.net !== net) throw new StatementFormatError(`header says ${stated.count} lines netting ${stated.net}, the file has ${count} netting ${net}`);
    },
  };
}

function netsUnionParser(): StatementParser {
  return headedParser(
    "NetsUnion",
    (text) => {
      const m = /^H (\d{8}) (\d{8}) +(-?\d+)$/.exec(text);
      return m ? { count: Number(m[2]), net: BigInt(m[3]!) } : null;
    },
    (text, line_no) => {
      const c = sliceColumns(text, NETSUNION_WIDTHS);
      if (!c || c[0] !== "D" || (c[1] !== "0110" && c[1] !== "0121")) throw new StatementFormatError(`line ${line_no}: not a NetsUnion detail line`);
      return {
        kind: c[1] === "0110" ? "pay" : "refund", network_txn_id: c[2]!, txn_id: c[3]!, order_id: c[4]!, amount_fen: fen(c[6]!, "amount", line_no),
        fee_fen: fen(c[7]!, "fee", line_no), settlement_amount_fen: fen(c[8]!, "settlement amount", line_no), card_masked: c[11]!,
      };
    },
  );
}

function unionPayParser(): StatementParser {
  let line_no = 0;
  return {
    line(text) {
      line_no += 1;
      const c = sliceColumns(text, UNIONPAY_WIDTHS);
      if (!c || (c[0] !== "S22" && c[0] !== "S30")) throw new StatementFormatError(`line ${line_no}: not a UnionPay statement line`);
      return {
        kind: c[0] === "S22" ? "pay" : "refund", network_txn_id: c[10]!, txn_id: c[14]!, order_id: c[11]!, amount_fen: fen(c[6]!, "amount", line_no),
        fee_fen: fen(c[12]!, "fee", line_no), settlement_amount_fen: fen(c[13]!, "settlement amount", line_no), card_masked: c[5]!,
      };
    },
    finish() {},
  };
}

const RAIL_WIDTHS = [1, 4, 64, 64, 15, 15, 16, 14, 12] as const;
const RAIL_CODES: Record<Rail, string> = { hvps: "HVPS", beps: "BEPS", ibps: "IBPS", bank_direct: "BDIR" };

/**
 * A rail's file: a header `H <rail> <yyyymmdd> <count> <net>`, then one line per credit the rail
 * settled (msg id, end-to-end id = paycore's payout id, amount, fee, what it moved in the reserve
 * account — negative). A line is a `pay` record: money the PI sent.
 */
function railParser(rail: Rail): StatementParser {
  const code = RAIL_CODES[rail];
  return headedParser(
    code,
    (text) => {
      const m = /^H ([A-Z]{4}) (\d{8}) (\d{8}) +(-?\d+)$/.exec(text);
      return m && m[1] === code ? { count: Number(m[3]), net: BigInt(m[4]!) } : null;
    },
    (text, line_no) => {
      const c = sliceColumns(text, RAIL_WIDTHS);
      if (!c || c[0] !== "D" || c[1] !== code || !c[2] || !c[3]) throw new StatementFormatError(`line ${line_no}: not a ${code} detail line`);
      return {
        kind: "pay", network_txn_id: c[2], txn_id: c[2], order_id: c[3], amount_fen: fen(c[4]!, "amount", line_no),
        fee_fen: fen(c[5]!, "fee", line_no), settlement_amount_fen: fen(c[6]!, "settlement amount", line_no), card_masked: "",
      };
    },
  );
}

/** The parser of a network's or a rail's statement layout (docs/sandbox.md). */
export function statementParser(channel_id: StatementChannelId): StatementParser {
  switch (channel_id) {
    case "netsunion":
      return netsUnionParser();
    case "unionpay_nocard":
    case "unionpay_quickpay":
      return unionPayParser();
    case "hvps":
    case "beps":
    case "ibps":
    case "bank_direct":
      return railParser(channel_id);
  }
}

/** Parses a whole file held in memory (an adapter's verified answer); null when it is off. */
export function parseStatementText(channel_id: StatementChannelId, raw: string): StatementRecord[] | null {
  const parser = statementParser(channel_id);
  const records: StatementRecord[] = [];
  try {
    for (const text of raw.split("\n")) {
      if (text === "") continue;
      const record = parser.line(text);
      if (record) records.push(record);
    }
    parser.finish();
  } catch (error) {
    if (error instanceof StatementFormatError) return null;
    throw error;
  }
  return records;
}
