import { createHash } from "node:crypto";
import { feeFen } from "../kernel/money.ts";
import { NETWORK_FEES } from "./engine.ts";
import { CapacityError } from "./limits.ts";
import type { StateTable } from "./persistence.ts";
import type { Rail } from "../kernel/cnaps/hours.ts";
import type { NetworkId } from "./model.ts";

/** Whose file a fault changes: a network's, or a CNAPS rail's (src/sandbox/rails/statement.ts). */
export type StatementChannel = NetworkId | Rail;

/**
 * Statement faults: what makes a day's statement file disagree with paycore, for reconciliation
 * tests. The state is plain JSON data (`toJSON` / `fromJSON`) so the sandbox's persistence can
 * keep it with the rest of its world.
 *
 * - `drop`: the file leaves out `count` of the day's transactions (the first ones).
 * - `extra`: the file lists `count` transactions the platform never saw.
 * - `amount`: `count` lines carry another amount (the last ones not otherwise changed).
 * - `fee`: `count` lines carry another network fee.
 * - `bad_signature`: the next `count` file downloads arrive with a signature that does not verify.
 * - `late`: the next `count` file downloads are answered "file not ready yet".
 * - `next_day`: the day's last `count` transactions are booked on the next day's file instead
 *   (what happens to payments near the cut-off): they open the next day's file.
 */
export const STATEMENT_FAULT_KINDS = ["drop", "extra", "amount", "fee", "bad_signature", "late", "next_day"] as const;
export type StatementFaultKind = (typeof STATEMENT_FAULT_KINDS)[number];

export interface StatementFault {
  fault_id: string;
  channel: StatementChannel;
  date: string;
  kind: StatementFaultKind;
  count: number;
  /** For `bad_signature` and `late`: downloads still to spoil. */
  remaining: number;
}

export interface StatementFaultsState {
  counter: number;
  faults: StatementFault[];
}

export const STATEMENT_FAULT_LIMITS = { faults_max: 200, count_max: 10_000 } as const;

/** How much an `amount` fault shifts a line, and how much a `fee` fault adds to the fee. */
const AMOUNT_SHIFT_FEN = 100n;
const FEE_SHIFT_FEN = 1n;

/** One line of a statement as the sandbox writes it, before layout. */
export interface StatementEntry {
  kind: "pay" | "refund";
  network_txn_id: string;
  txn_id: string;
  order_id: string;
  amount_fen: bigint;
  fee_fen: bigint;
  at: Date;
  /** Filled in for real transactions; synthetic `extra` lines have none. */
  source: "network" | "extra";
  agreement_no: string;
  card_number: string | null;
  trace_no: string;
}

export class StatementFaults {
  private state: StatementFaultsState = { counter: 0, faults: [] };
  private store: StateTable<StatementFaultsState> | null = null;

  /** Kept in the sandbox's persistent state (journalled on every change), restored on start. */
  static persisted(store: StateTable<StatementFaultsState>): StatementFaults {
    const saved = store.get("state");
    const out = saved ? StatementFaults.fromJSON(saved) : new StatementFaults();
    out.store = store;
    return out;
  }

  private save(): void {
    this.store?.set("state", this.toJSON());
  }

  add(input: Pick<StatementFault, "channel" | "date" | "kind" | "count">): StatementFault {
    if (this.state.faults.length >= STATEMENT_FAULT_LIMITS.faults_max) throw new CapacityError("statement faults");
    this.state.counter += 1;
    const fault: StatementFault = { ...input, fault_id: `sft_${this.state.counter}`, remaining: input.count };
    this.state.faults.push(fault);
    this.save();
    return fault;
  }

  list(): StatementFault[] {
    return this.state.faults.map((f) => ({ ...f }));
  }

  clear(): void {
    this.state.faults = [];
    this.save();
  }

  toJSON(): StatementFaultsState {
    return { counter: this.state.counter, faults: this.list() };
  }

  static fromJSON(state: StatementFaultsState): StatementFaults {
    const out = new StatementFaults();
    out.state = { counter: state.counter, faults: state.faults.map((f) => ({ ...f })) };
    return out;
  }

  /** Spends one download of a `late` or `bad_signature` fault for that file; true when one applied. */
  consume(channel: StatementChannel, date: string, kind: "late" | "bad_signature"): boolean {
    const fault = this.state.faults.find((f) => f.channel === channel && f.date === date && f.kind === kind && f.remaining > 0);
    if (!fault) return false;
    fault.remaining -= 1;
    this.save();
    return true;
  }

  /** How many of the day's last transactions the network books on the next day's file. */
  nextDay(channel: StatementChannel, date: string): number {
    return this.state.faults.filter((f) => f.channel === channel && f.date === date && f.kind === "next_day").reduce((sum, f) => sum + f.count, 0);
  }

  /** The day's entries as the network's file shows them, faults applied. */
  apply(channel: StatementChannel, date: string, entries: StatementEntry[]): StatementEntry[] {
    let out = entries.map((e) => ({ ...e }));
    const touched = new Set<number>();
    for (const fault of this.state.faults) {
      if (fault.channel !== channel || fault.date !== date) continue;
      switch (fault.kind) {
        case "drop":
          out = out.slice(Math.min(fault.count, out.length));
          break;
        case "extra":
          out = [...out, ...extraEntries(channel, date, fault, out.at(-1)?.at ?? new Date(`${date}T00:00:00Z`))];
          break;
        case "amount":
        case "fee":
          changeLines(out, touched, fault.count, (e) =>
            fault.kind === "amount" ? { ...e, amount_fen: e.amount_fen > AMOUNT_SHIFT_FEN ? e.amount_fen - AMOUNT_SHIFT_FEN : e.amount_fen + AMOUNT_SHIFT_FEN } : { ...e, fee_fen: e.fee_fen + FEE_SHIFT_FEN },
          );
          break;
        case "bad_signature":
        case "late":
        case "next_day":
          break;
      }
    }
    return out;
  }
}

/** Changes up to `count` real lines from the end, each line at most once across faults. */
function changeLines(out: StatementEntry[], touched: Set<number>, count: number, change: (e: StatementEntry) => StatementEntry): void {
  let left = count;
  for (let i = out.length - 1; i >= 0 && left > 0; i -= 1) {
    const entry = out[i]!;
    if (entry.source !== "network" || entry.kind !== "pay" || touched.has(i)) continue;
    out[i] = change(entry);
    touched.add(i);
    left -= 1;
  }
}

/** Deterministic lines nobody at paycore asked for: same fault, same lines. */
function extraEntries(channel: StatementChannel, date: string, fault: StatementFault, at: Date): StatementEntry[] {
  const out: StatementEntry[] = [];
  for (let i = 0; i < fault.count; i += 1) {
    const digest = createHash("sha256").update(`${channel}:${date}:${fault.fault_id}:${i}`).digest("hex");
    const amount_fen = 1_000n + BigInt(parseInt(digest.slice(0, 6), 16) % 100_000);
    // The rails charge no per-item fee in their files; the networks their published rate.
    const fees = channel in NETWORK_FEES ? NETWORK_FEES[channel as NetworkId] : null;
    out.push({
      kind: "pay", network_txn_id: `X${date.replace(/-/g, "")}${digest.slice(0, 12).toUpperCase()}`, txn_id: `EXT${digest.slice(12, 28)}`,
      order_id: `ext_${digest.slice(28, 44)}`, amount_fen, fee_fen: fees ? feeFen(amount_fen, fees.bps, 0n) + fees.fixed_fen : 0n, at, source: "extra",
      agreement_no: "", card_number: null, trace_no: digest.slice(44, 50),
    });
  }
  return out;
}
