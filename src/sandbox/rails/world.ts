import { assert } from "../../kernel/assert.ts";
import type { Clock } from "../../kernel/clock.ts";
import { RAILS, railWindow, type Rail, type RailCalendar } from "../../kernel/cnaps/hours.ts";
import type { CnapsMessage, CreditTransfer, Party, RejectReason, StatusReport, TxStatus } from "../../kernel/cnaps/iso20022.ts";
import { cnapsParticipant } from "../../kernel/banks.ts";
import { CapacityError } from "../limits.ts";

/**
 * The CNAPS rails as the sandbox plays them: hours on a calendar, per-item caps, BEPS netting in
 * batches, IBPS only between participating banks, bank-direct through the reserve bank, payee
 * banks that accept, reject or send a credit back later, and corporate deposits into the
 * institution's reserve account. The whole state is plain JSON-serialisable data (`state`), so
 * the sandbox can keep it across restarts; times that drive batches and returns are wall-clock
 * milliseconds (batches are about real timers even when the business clock is a test's).
 */
export const RAIL_LIMITS = { transfers_max: 200_000, payees_max: 10_000, deposits_max: 100_000, outbox_max: 10_000, push_attempts_max: 20 } as const;

export type Behaviour = "accept" | "reject" | "return";
/** What a rail answers to a message id it already has, sent again with the same content. */
export type ResendAnswer = "original" | "dupl";

export interface RailsConfig {
  calendar: RailCalendar;
  /** BEPS nets its queue every this many ms (a few minutes in life; short in tests). */
  beps_batch_interval_ms: number;
  /** A `return` payee's bank sends the credit back this long after it settled. */
  return_delay_ms: number;
  /** The reserve bank forwards a bank-direct credit to another bank in this long. */
  forward_delay_ms: number;
  /** First three digits of the reserve bank's CNAPS codes (bank-direct credits to it are instant). */
  reserve_bank_prefix: string;
  reserve_account: Party;
}

export const DEFAULT_CAPS_FEN: Record<Rail, string | null> = { hvps: null, beps: "5000000", ibps: "5000000", bank_direct: null };

export interface TransferRecord {
  msg_id: string;
  end_to_end_id: string;
  rail: Rail;
  amount: string;
  creditor: Party;
  body_key: string;
  status: TxStatus;
  reason: string | null;
  received_at: string;
  settle_due_ms: number | null;
  settled_at: string | null;
  return_due_ms: number | null;
  returned_at: string | null;
}

export interface DepositRecord {
  deposit_id: string;
  merchant_id: string;
  amount: string;
  payer: Party;
  status: "announced" | "returned";
  received_at: string;
  returned_at: string | null;
}

export interface OutboxItem {
  message: CnapsMessage;
  attempts: number;
  next_at_ms: number;
}

export interface RailsState {
  forced: Partial<Record<Rail, "open" | "closed">>;
  caps: Record<Rail, string | null>;
  payees: Record<string, { account_name: string; behaviour: Behaviour }>;
  /** Rails that answer a resend with `RJCT DUPL` (absent: the first transfer's status; older saved worlds lack it). */
  resend?: Partial<Record<Rail, ResendAnswer>>;
  transfers: Record<string, TransferRecord>;
  deposits: Record<string, DepositRecord>;
  outbox: OutboxItem[];
  counter: number;
}

export function emptyRailsState(): RailsState {
  return { forced: {}, caps: { ...DEFAULT_CAPS_FEN }, payees: {}, resend: {}, transfers: {}, deposits: {}, outbox: [], counter: 0 };
}

const payeeKey = (bank_code: string, account: string) => `${bank_code}:${account}`;

export type Acceptance = { status: TxStatus; reason: RejectReason | null };

export class RailsWorld {
  constructor(
    readonly state: RailsState,
    readonly config: RailsConfig,
    private readonly clock: Clock,
  ) {}

  nextId(prefix: string): string {
    this.state.counter += 1;
    return `${prefix}${this.clock.now().getTime().toString(36).toUpperCase()}${String(this.state.counter).padStart(8, "0")}`;
  }

  isOpen(rail: Rail): boolean {
    const forced = this.state.forced[rail];
    if (forced) return forced === "open";
    return railWindow(rail, this.clock.now(), this.config.calendar).open;
  }

  force(rail: Rail, status: "open" | "closed" | "schedule"): void {
    if (status === "schedule") delete this.state.forced[rail];
    else this.state.forced[rail] = status;
  }

  setPayee(bank_code: string, account_number: string, account_name: string, behaviour: Behaviour): void {
    const key = payeeKey(bank_code, account_number);
    if (!this.state.payees[key] && Object.keys(this.state.payees).length >= RAIL_LIMITS.payees_max) throw new CapacityError("payees");
    this.state.payees[key] = { account_name, behaviour };
  }

  setResend(rail: Rail, answer: ResendAnswer): void {
    this.state.resend = { ...this.state.resend, [rail]: answer };
  }

  /**
   * A pacs.008 arrives: the same message id again answers the first transfer's state, or `RJCT
   * DUPL` on a rail set to (as real rails do); another transfer under a known id always gets DUPL.
   * Either way nothing more moves.
   */
  receive(ct: CreditTransfer): Acceptance {
    const body_key = JSON.stringify({ ...ct, created_at: undefined, amount: ct.amount.toString() });
    const existing = this.state.transfers[ct.msg_id];
    if (existing) {
      if (existing.body_key !== body_key || this.state.resend?.[existing.rail] === "dupl") return { status: "RJCT", reason: "DUPL" };
      return { status: existing.status, reason: existing.reason as RejectReason | null };
    }
    if (Object.keys(this.state.transfers).length >= RAIL_LIMITS.transfers_max) throw new CapacityError("rail transfers");
    const record: TransferRecord = {
      msg_id: ct.msg_id, end_to_end_id: ct.end_to_end_id, rail: ct.rail, amount: ct.amount.toString(), creditor: ct.creditor, body_key,
      status: "PDNG", reason: null, received_at: this.clock.now().toISOString(), settle_due_ms: null, settled_at: null, return_due_ms: null, returned_at: null,
    };
    this.state.transfers[ct.msg_id] = record;
    const refusal = this.railRefusal(ct);
    if (refusal) {
      record.status = "RJCT";
      record.reason = refusal;
      return { status: "RJCT", reason: refusal };
    }
    if (this.settlesLater(ct)) {
      record.status = "ACSP";
      record.settle_due_ms = this.dueMs(ct.rail);
      return { status: "ACSP", reason: null };
    }
    this.settle(record);
    return { status: record.status, reason: record.reason as RejectReason | null };
  }

  private railRefusal(ct: CreditTransfer): RejectReason | null {
    if (!this.isOpen(ct.rail)) return "CLSD";
    const cap = this.state.caps[ct.rail];
    if (cap !== null && ct.amount > BigInt(cap)) return "OCAP";
    if (ct.rail === "ibps" && !(cnapsParticipant(ct.creditor.agent)?.ibps && cnapsParticipant(ct.debtor.agent)?.ibps)) return "NIBP";
    if (!cnapsParticipant(ct.creditor.agent)) return "AC01";
    return null;
  }

  private settlesLater(ct: CreditTransfer): boolean {
    if (ct.rail === "beps") return true;
    return ct.rail === "bank_direct" && ct.creditor.agent.slice(0, 3) !== this.config.reserve_bank_prefix;
  }

  /** The next BEPS batch boundary, or the reserve bank's forwarding delay. */
  private dueMs(rail: Rail): number {
    const now_ms = Date.now();
    if (rail === "bank_direct") return now_ms + this.config.forward_delay_ms;
    const interval = this.config.beps_batch_interval_ms;
    return Math.ceil((now_ms + 1) / interval) * interval;
  }

  /** The payee's bank decides: accept, reject, or accept and send it back later. */
  private settle(record: TransferRecord): void {
    const payee = this.state.payees[payeeKey(record.creditor.agent, record.creditor.account)];
    if (payee && payee.account_name !== record.creditor.name) {
      record.status = "RJCT";
      record.reason = "RR03";
    } else if (payee?.behaviour === "reject") {
      record.status = "RJCT";
      record.reason = "AC04";
    } else {
      record.status = "ACSC";
      record.settled_at = this.clock.now().toISOString();
      if (payee?.behaviour === "return") record.return_due_ms = Date.now() + this.config.return_delay_ms;
    }
    record.settle_due_ms = null;
  }

  statusReport(record: TransferRecord): StatusReport {
    return {
      type: "pacs.002", msg_id: this.nextId("R"), created_at: this.clock.now(), original_msg_id: record.msg_id, end_to_end_id: record.end_to_end_id,
      status: record.status, reason: record.reason, settled_at: record.settled_at ? new Date(record.settled_at) : null,
    };
  }

  /** Settles due batches and forwarded credits and sends due returns; answers what to tell paycore. */
  tick(now_ms: number): CnapsMessage[] {
    const out: CnapsMessage[] = [];
    for (const record of Object.values(this.state.transfers)) {
      if (record.status === "ACSP" && record.settle_due_ms !== null && record.settle_due_ms <= now_ms) {
        this.settle(record);
        out.push(this.statusReport(record));
      }
      if (record.return_due_ms !== null && record.return_due_ms <= now_ms && record.returned_at === null) {
        record.returned_at = this.clock.now().toISOString();
        record.return_due_ms = null;
        out.push({ type: "pacs.004", msg_id: this.nextId("T"), created_at: this.clock.now(), original_msg_id: record.msg_id, end_to_end_id: record.end_to_end_id, amount: BigInt(record.amount), reason: "AC04" });
      }
    }
    return out;
  }

  deposit(merchant_id: string, amount: bigint, payer: Party): { record: DepositRecord; notice: CnapsMessage } {
    assert(amount > 0n, "a deposit is positive");
    if (Object.keys(this.state.deposits).length >= RAIL_LIMITS.deposits_max) throw new CapacityError("deposits");
    const deposit_id = this.nextId("D");
    const now = this.clock.now();
    const record: DepositRecord = { deposit_id, merchant_id, amount: amount.toString(), payer, status: "announced", received_at: now.toISOString(), returned_at: null };
    this.state.deposits[deposit_id] = record;
    return { record, notice: { type: "camt.054", msg_id: this.nextId("N"), created_at: now, entry_ref: deposit_id, amount, debtor: payer, remittance: merchant_id } };
  }

  /** paycore sends a deposit back to its payer (pacs.004 naming the deposit): once. */
  returnDeposit(deposit_id: string, amount: bigint): Acceptance {
    const record = this.state.deposits[deposit_id];
    if (!record || BigInt(record.amount) !== amount) return { status: "RJCT", reason: "AC01" };
    if (record.status !== "returned") {
      record.status = "returned";
      record.returned_at = this.clock.now().toISOString();
    }
    return { status: "ACSC", reason: null };
  }

  /** Credits that reached a payee (settled, whether or not returned later). */
  creditsTo(account_number: string): TransferRecord[] {
    return Object.values(this.state.transfers).filter((t) => t.creditor.account === account_number && t.settled_at !== null);
  }

  railViews(): { rail: Rail; open: boolean; forced: "open" | "closed" | null; per_item_max: number | null; resend: ResendAnswer }[] {
    return RAILS.map((rail) => ({
      rail, open: this.isOpen(rail), forced: this.state.forced[rail] ?? null, per_item_max: this.state.caps[rail] === null ? null : Number(this.state.caps[rail]),
      resend: this.state.resend?.[rail] ?? "original",
    }));
  }
}
