import { assert } from "../../kernel/assert.ts";
import type { Clock } from "../../kernel/clock.ts";
import { RAILS, railWindow, type Rail, type RailCalendar } from "../../kernel/cnaps/hours.ts";
import type { CnapsMessage, CreditTransfer, Party, RejectReason, StatusReport, TxStatus } from "../../kernel/cnaps/iso20022.ts";
import { cnapsParticipant } from "../../kernel/banks.ts";
import { DayArchive, type ArchiveBounds, type ArchiveSpec } from "../archive.ts";
import { settlementDate } from "../calendar.ts";
import { CapacityError, SANDBOX_LIMITS } from "../limits.ts";
import type { SandboxState, StateTable } from "../persistence.ts";

/**
 * The CNAPS rails as the sandbox plays them: hours on a calendar, per-item caps, BEPS netting in
 * batches, IBPS only between participating banks, bank-direct through the reserve bank, payee
 * banks that accept, reject or send a credit back later, and corporate deposits into the
 * institution's reserve account. Its state is plain JSON-serialisable data kept across restarts
 * (src/sandbox/persistence.ts): a transfer, a deposit and a payee are a row each (`rails.transfers`,
 * `rails.deposits`, `rails.payees`), the rest one value (`rails.world`); times that drive batches and returns are
 * wall-clock milliseconds (batches are about real timers even when the business clock is a test's).
 *
 * The world stays bounded as the card networks' does (src/sandbox/engine.ts): a final transfer
 * (rejected, or settled with no return to come, or returned) and a deposit stay in memory for the
 * retention after their last change, then are retired to the `DayArchive` (one file per rail or
 * `deposits` and settlement day), oldest first, a bounded batch per pass. Status queries, statement
 * files, the credits of a payee and the deposits listed read it; a deposit sent back after it was
 * retired is brought back into memory and archived again with its new state. When the table is
 * full before the retention, the oldest final ones go early. Only transfers in flight (accepted and
 * waiting for a batch or the reserve bank, or settled with a return to come) cannot be retired:
 * they have their own cap, and a credit past it is refused (`CapacityError`).
 */
export const RAIL_LIMITS = {
  /** Transfers in memory (and the snapshot); past this the oldest final ones are retired before the retention. */
  transfers_max: 200_000,
  /** Transfers in flight at once (not retirable); one more is refused. */
  in_flight_max: 100_000,
  /** Deposits in memory; past this the oldest are retired before the retention. */
  deposits_max: 100_000,
  payees_max: 10_000,
  outbox_max: 10_000,
  push_attempts_max: 20,
  /** Transfers and deposits retired in one pass (one turn of the event loop). */
  retire_batch_max: 2_000,
  /**
   * Message ids of retired transfers remembered (a row each, `rails.retired_ids`), so a message
   * sent again after its transfer was retired is still the same transfer (CNAPS message ids are
   * unique per participant): for `retired_id_window_ms`, at most this many, the oldest forgotten first.
   */
  retired_ids_max: 500_000,
  retired_id_window_ms: 7 * 24 * 60 * 60 * 1000,
  /** Credits of a payee or deposits listed at most (memory and archive together)… */
  listed_max: 10_000,
  /** …read from the archive's newest days, at most this much (control endpoints: a list answers within a second or so). */
  list_search_bytes_max: 64 * 1024 * 1024,
  /** The rails' archive (`<data_dir>/sandbox/state/rails-archive`): at most this many bytes… */
  archive_bytes_max: 1024 * 1024 * 1024,
  /** …and files (four rails and the deposits, a file a day each, for 400 days). */
  archive_files_max: 5 * 400,
} as const;

/** How much of the rails' world stays in memory (tests make them small). */
export interface RailsBounds {
  transfers_max?: number;
  in_flight_max?: number;
  deposits_max?: number;
  /** A final transfer or a deposit stays in memory this long after its last change (`records_retention_ms`). */
  retention_ms?: number;
  archive?: ArchiveBounds;
}

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

export interface Payee {
  account_name: string;
  behaviour: Behaviour;
}

export interface RailsState {
  forced: Partial<Record<Rail, "open" | "closed">>;
  caps: Record<Rail, string | null>;
  /** Worlds saved before payees had their own table held them here; moved at load. */
  payees?: Record<string, Payee>;
  /** Rails that answer a resend with `RJCT DUPL` (absent: the first transfer's status; older saved worlds lack it). */
  resend?: Partial<Record<Rail, ResendAnswer>>;
  /** Worlds saved before transfers and deposits had their own tables held them here; moved at load. */
  transfers?: Record<string, TransferRecord>;
  deposits?: Record<string, DepositRecord>;
  outbox: OutboxItem[];
  counter: number;
}

export function emptyRailsState(): RailsState {
  return { forced: {}, caps: { ...DEFAULT_CAPS_FEN }, resend: {}, outbox: [], counter: 0 };
}

/** What the rails' archive holds. */
export type RailRecord = TransferRecord | DepositRecord;
const isDeposit = (record: RailRecord): record is DepositRecord => "deposit_id" in record;

const RAIL_ARCHIVE_SPEC: ArchiveSpec<RailRecord> = {
  channel: (record) => (isDeposit(record) ? "deposits" : record.rail),
  // A transfer's file is its settlement day (the statement's), else the day it arrived; it never changes once final.
  date: (record) => settlementDate(new Date(isDeposit(record) ? record.received_at : (record.settled_at ?? record.received_at))),
  id: (record) => (isDeposit(record) ? record.deposit_id : record.msg_id),
};

/** Not final: waiting for a batch or the reserve bank, or settled with the payee bank's return to come. */
function inFlight(record: TransferRecord): boolean {
  return record.status === "PDNG" || record.status === "ACSP" || (record.return_due_ms !== null && record.returned_at === null);
}

/** When it last changed (business clock). */
function lastChangeMs(record: RailRecord): number {
  return Date.parse(record.returned_at ?? (isDeposit(record) ? record.received_at : (record.settled_at ?? record.received_at)));
}

const payeeKey = (bank_code: string, account: string) => `${bank_code}:${account}`;

export type Acceptance = { status: TxStatus; reason: RejectReason | null };

export class RailsWorld {
  private readonly transfers: StateTable<TransferRecord>;
  private readonly deposits: StateTable<DepositRecord>;
  /** `<bank code>:<account>` → the payee's bank's behaviour. */
  private readonly payees: StateTable<Payee>;
  /** Message id of a retired transfer → when it was retired (clock ms), oldest first. */
  private readonly retired_ids: StateTable<number>;
  /** Message ids of the transfers in flight, rebuilt at load: the ticker visits only these. */
  private readonly in_flight = new Set<string>();
  private readonly transfers_max: number;
  private readonly in_flight_max: number;
  private readonly deposits_max: number;
  private readonly retention_ms: number;
  /** No retirement pass before this (clock ms). */
  private retire_due_ms = 0;
  /** Transfers and deposits retired by this process (`GET /sandbox/v1/rails/world`, tests). */
  retired_count = 0;

  private constructor(
    private readonly world: StateTable<RailsState>,
    readonly state: RailsState,
    tables: { transfers: StateTable<TransferRecord>; deposits: StateTable<DepositRecord>; retired_ids: StateTable<number>; payees: StateTable<Payee> },
    readonly archive: DayArchive<RailRecord>,
    readonly config: RailsConfig,
    private readonly clock: Clock,
    bounds: RailsBounds,
  ) {
    this.transfers = tables.transfers;
    this.deposits = tables.deposits;
    this.retired_ids = tables.retired_ids;
    this.payees = tables.payees;
    this.transfers_max = bounds.transfers_max ?? RAIL_LIMITS.transfers_max;
    this.in_flight_max = bounds.in_flight_max ?? RAIL_LIMITS.in_flight_max;
    this.deposits_max = bounds.deposits_max ?? RAIL_LIMITS.deposits_max;
    this.retention_ms = bounds.retention_ms ?? SANDBOX_LIMITS.records_retention_ms;
    for (const record of this.transfers.values()) if (inFlight(record)) this.in_flight.add(record.msg_id);
  }

  /** The rails' world from the sandbox's state (empty at first), its archive in `<state>/rails-archive` (in memory without one). */
  static load(state: SandboxState, config: RailsConfig, clock: Clock, bounds: RailsBounds = {}): RailsWorld {
    const world = state.table<RailsState>("rails.world");
    const transfers = state.table<TransferRecord>("rails.transfers");
    const deposits = state.table<DepositRecord>("rails.deposits");
    const payees = state.table<Payee>("rails.payees");
    const saved = world.get("state") ?? emptyRailsState();
    if (saved.transfers || saved.deposits || saved.payees) {
      // A world saved whole (before these tables): its transfers, deposits and payees become rows, in their order.
      for (const record of Object.values(saved.transfers ?? {})) transfers.set(record.msg_id, record);
      for (const record of Object.values(saved.deposits ?? {})) deposits.set(record.deposit_id, record);
      for (const [key, payee] of Object.entries(saved.payees ?? {})) payees.set(key, payee);
      delete saved.transfers;
      delete saved.deposits;
      delete saved.payees;
      world.set("state", saved);
    }
    const archive_bounds: ArchiveBounds = { bytes_max: RAIL_LIMITS.archive_bytes_max, files_max: RAIL_LIMITS.archive_files_max, ...bounds.archive };
    const dir = state.rails_archive_dir;
    const archive = dir ? DayArchive.open(dir, RAIL_ARCHIVE_SPEC, archive_bounds) : DayArchive.inMemory(RAIL_ARCHIVE_SPEC, archive_bounds);
    return new RailsWorld(world, saved, { transfers, deposits, retired_ids: state.table<number>("rails.retired_ids"), payees }, archive, config, clock, bounds);
  }

  /** Journals the world's value (rails' settings, outbox, counter) after a change to it. */
  save(): void {
    this.world.set("state", this.state);
  }

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
    if (!this.payees.has(key) && this.payees.size >= RAIL_LIMITS.payees_max) throw new CapacityError(`payees (${RAIL_LIMITS.payees_max})`);
    this.payees.set(key, { account_name, behaviour });
  }

  setResend(rail: Rail, answer: ResendAnswer): void {
    this.state.resend = { ...this.state.resend, [rail]: answer };
  }

  /**
   * A pacs.008 arrives: the same message id again answers the first transfer's state, or `RJCT
   * DUPL` on a rail set to (as real rails do); another transfer under a known id always gets DUPL.
   * Either way nothing more moves. A retired transfer is known too: the caller looks it up first
   * (`retiredTransfer`) and passes it; `forgotten` (retired, no longer in the archive) answers DUPL.
   */
  receive(ct: CreditTransfer, retired?: TransferRecord | "forgotten"): Acceptance {
    const body_key = JSON.stringify({ ...ct, created_at: undefined, amount: ct.amount.toString() });
    const existing = this.transfers.get(ct.msg_id) ?? retired;
    if (existing === "forgotten") return { status: "RJCT", reason: "DUPL" };
    if (existing) {
      if (existing.body_key !== body_key || this.state.resend?.[existing.rail] === "dupl") return { status: "RJCT", reason: "DUPL" };
      return { status: existing.status, reason: existing.reason as RejectReason | null };
    }
    if (this.transfers.size >= this.transfers_max && this.retireTransfers(true) === 0) throw new CapacityError(`rail transfers in memory (${this.transfers_max}), none final to retire`);
    const record: TransferRecord = {
      msg_id: ct.msg_id, end_to_end_id: ct.end_to_end_id, rail: ct.rail, amount: ct.amount.toString(), creditor: ct.creditor, body_key,
      status: "PDNG", reason: null, received_at: this.clock.now().toISOString(), settle_due_ms: null, settled_at: null, return_due_ms: null, returned_at: null,
    };
    const refusal = this.railRefusal(ct);
    if (refusal) {
      record.status = "RJCT";
      record.reason = refusal;
    } else if (this.settlesLater(ct)) {
      record.status = "ACSP";
      record.settle_due_ms = this.dueMs(ct.rail);
    } else {
      this.settle(record);
    }
    // Decided but not stored yet: one that would wait past the cap is refused, as if never received.
    if (inFlight(record) && this.in_flight.size >= this.in_flight_max) {
      throw new CapacityError(`rail transfers in flight (${this.in_flight_max}: accepted, not yet settled or returned); send again once batches have settled`);
    }
    this.store(record);
    return { status: record.status, reason: record.reason as RejectReason | null };
  }

  /**
   * A transfer retired under this message id within the remembered window: its archived state, or
   * `forgotten` when the archive no longer finds it; undefined when the id is in memory or unknown.
   * Only a message id that was retired costs a search of the archive.
   */
  async retiredTransfer(msg_id: string): Promise<TransferRecord | "forgotten" | undefined> {
    if (this.transfers.has(msg_id) || !this.retired_ids.has(msg_id)) return undefined;
    const found = await this.archive.find(RAILS, `"msg_id":${JSON.stringify(msg_id)}`, (r) => !isDeposit(r) && r.msg_id === msg_id);
    return (found as TransferRecord | undefined) ?? "forgotten";
  }

  /** The status report of a message id the rails refuse as a duplicate without its transfer at hand. */
  duplicateReport(ct: CreditTransfer): StatusReport {
    return { type: "pacs.002", msg_id: this.nextId("R"), created_at: this.clock.now(), original_msg_id: ct.msg_id, end_to_end_id: ct.end_to_end_id, status: "RJCT", reason: "DUPL", settled_at: null };
  }

  /** A transfer in memory. */
  transfer(msg_id: string): TransferRecord | undefined {
    return this.transfers.get(msg_id);
  }

  /**
   * A transfer in memory, else the last state the archive has of it if it was retired within the
   * remembered window (a status query). A message id never received answers at once: paycore asks
   * about one after a crash before sending, and a search of the whole archive could outlast its
   * timeout, which would leave the payout asking instead of sending.
   */
  async findTransfer(msg_id: string): Promise<TransferRecord | undefined> {
    const live = this.transfers.get(msg_id);
    if (live) return live;
    const retired = await this.retiredTransfer(msg_id);
    return typeof retired === "object" ? retired : undefined;
  }

  /** Journals a transfer after a change and keeps the in-flight set. */
  private store(record: TransferRecord): void {
    this.transfers.set(record.msg_id, record);
    if (inFlight(record)) this.in_flight.add(record.msg_id);
    else this.in_flight.delete(record.msg_id);
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
    const payee = this.payees.get(payeeKey(record.creditor.agent, record.creditor.account));
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
    for (const msg_id of [...this.in_flight]) {
      const record = this.transfers.get(msg_id);
      if (!record) {
        this.in_flight.delete(msg_id); // never so (in-flight ones are not retired); kept consistent if it were
        continue;
      }
      let changed = false;
      if (record.status === "ACSP" && record.settle_due_ms !== null && record.settle_due_ms <= now_ms) {
        this.settle(record);
        out.push(this.statusReport(record));
        changed = true;
      }
      if (record.return_due_ms !== null && record.return_due_ms <= now_ms && record.returned_at === null) {
        record.returned_at = this.clock.now().toISOString();
        record.return_due_ms = null;
        out.push({ type: "pacs.004", msg_id: this.nextId("T"), created_at: this.clock.now(), original_msg_id: record.msg_id, end_to_end_id: record.end_to_end_id, amount: BigInt(record.amount), reason: "AC04" });
        changed = true;
      }
      if (changed) this.store(record);
    }
    return out;
  }

  deposit(merchant_id: string, amount: bigint, payer: Party): { record: DepositRecord; notice: CnapsMessage } {
    assert(amount > 0n, "a deposit is positive");
    this.roomForDeposit();
    const deposit_id = this.nextId("D");
    const now = this.clock.now();
    const record: DepositRecord = { deposit_id, merchant_id, amount: amount.toString(), payer, status: "announced", received_at: now.toISOString(), returned_at: null };
    this.deposits.set(deposit_id, record);
    return { record, notice: { type: "camt.054", msg_id: this.nextId("N"), created_at: now, entry_ref: deposit_id, amount, debtor: payer, remittance: merchant_id } };
  }

  /** A full deposits table retires its oldest early (a deposit is never in flight). */
  private roomForDeposit(): void {
    if (this.deposits.size >= this.deposits_max && this.retireDeposits(true) === 0) throw new CapacityError(`rail deposits in memory (${this.deposits_max})`);
  }

  /**
   * paycore sends a deposit back to its payer (pacs.004 naming the deposit): once. A retired
   * deposit is brought back into memory to change; it is archived again with its new state.
   */
  async returnDeposit(deposit_id: string, amount: bigint): Promise<Acceptance> {
    let record = this.deposits.get(deposit_id);
    if (!record) {
      const archived = await this.archive.find(["deposits"], `"deposit_id":${JSON.stringify(deposit_id)}`, (r) => isDeposit(r) && r.deposit_id === deposit_id);
      if (archived && !this.deposits.has(deposit_id) && BigInt((archived as DepositRecord).amount) === amount) {
        this.roomForDeposit();
        this.deposits.set(deposit_id, archived as DepositRecord);
      }
      record = this.deposits.get(deposit_id);
    }
    if (!record || BigInt(record.amount) !== amount) return { status: "RJCT", reason: "AC01" };
    if (record.status !== "returned") {
      record.status = "returned";
      record.returned_at = this.clock.now().toISOString();
      this.deposits.set(deposit_id, record);
    }
    return { status: "ACSC", reason: null };
  }

  /**
   * Credits that reached a payee (settled, whether or not returned later), in the order they
   * arrived: those in memory and the archived ones of the newest days (`list_search_bytes_max`),
   * at most `listed_max`.
   */
  async creditsTo(account_number: string): Promise<TransferRecord[]> {
    const reached = (t: TransferRecord) => t.creditor.account === account_number && t.settled_at !== null;
    // Memory first: a retirement during the archive's read moves records from memory to the
    // archive's end, past what the read takes (its size when it began); taken first, they are in one of the two.
    const live = [...this.transfers.values()].filter(reached);
    const archived = (await this.archive.findAll(RAILS, `"account":${JSON.stringify(account_number)}`, (r) => !isDeposit(r) && reached(r), RAIL_LIMITS.listed_max, RAIL_LIMITS.list_search_bytes_max)) as TransferRecord[];
    return merged(archived, live, (t) => t.msg_id).slice(-RAIL_LIMITS.listed_max);
  }

  /** Deposits in memory and the archived ones of the newest days, in the order they arrived, at most `listed_max`. */
  async listDeposits(): Promise<DepositRecord[]> {
    const live = [...this.deposits.values()]; // memory first, as in `creditsTo`
    const archived = (await this.archive.findAll(["deposits"], `"deposit_id":`, isDeposit, RAIL_LIMITS.listed_max, RAIL_LIMITS.list_search_bytes_max)) as DepositRecord[];
    return merged(archived, live, (d) => d.deposit_id).slice(-RAIL_LIMITS.listed_max);
  }

  /** The credits a rail settled on a settlement day, archived or in memory, in settling order (the statement file's lines). */
  async settledOn(rail: Rail, date: string): Promise<TransferRecord[]> {
    const settled = (t: TransferRecord) => t.rail === rail && t.settled_at !== null && settlementDate(new Date(t.settled_at)) === date;
    const live = [...this.transfers.values()].filter(settled); // memory first, as in `creditsTo`
    const archived = ((await this.archive.day(rail, date, SANDBOX_LIMITS.statement_records_max)) as TransferRecord[]).filter(settled);
    return merged(archived, live, (t) => t.msg_id)
      .sort((a, b) => a.settled_at!.localeCompare(b.settled_at!) || a.msg_id.localeCompare(b.msg_id))
      .slice(0, SANDBOX_LIMITS.statement_records_max);
  }

  get counts(): { transfers_in_memory: number; transfers_in_flight: number; deposits_in_memory: number; retired: number; retired_ids: number; archive_bytes: number } {
    return {
      transfers_in_memory: this.transfers.size, transfers_in_flight: this.in_flight.size, deposits_in_memory: this.deposits.size, retired: this.retired_count,
      retired_ids: this.retired_ids.size, archive_bytes: this.archive.bytes,
    };
  }

  /**
   * A retirement pass when one is due (the ticker calls it): final transfers and deposits whose
   * last change is older than the retention, oldest first, at most `retire_batch_max` of each.
   * Answers how many went.
   */
  retire(): number {
    const now_ms = this.clock.now().getTime();
    // Not due yet, unless the clock was set back (a test's) further than the interval.
    if (now_ms < this.retire_due_ms && this.retire_due_ms - now_ms <= SANDBOX_LIMITS.records_retire_interval_ms) return 0;
    const retired = this.retireTransfers(false) + this.retireDeposits(false);
    if (retired === 0) this.forgetRetiredIds(now_ms);
    // Full batches: go on at the next tick; else look again in a while (a pass walks from the table's start).
    this.retire_due_ms = retired >= RAIL_LIMITS.retire_batch_max ? 0 : now_ms + SANDBOX_LIMITS.records_retire_interval_ms;
    return retired;
  }

  /**
   * Retires up to a batch of final transfers, in arrival order: those final for the retention, or
   * (`early`, a full table) the oldest final ones whatever their age. The archive is written
   * before the deletions are journalled: a crash between archives them again, which readers allow.
   * The walk passes at most the transfers in flight besides the batch.
   */
  private retireTransfers(early: boolean): number {
    const cutoff_ms = this.clock.now().getTime() - this.retention_ms;
    const out: TransferRecord[] = [];
    let walked = 0;
    const walk_max = RAIL_LIMITS.retire_batch_max + this.in_flight.size;
    for (const record of this.transfers.values()) {
      if (out.length >= RAIL_LIMITS.retire_batch_max || walked++ >= walk_max) break;
      if (!early && Date.parse(record.received_at) > cutoff_ms) break; // arrival order: the rest are younger
      if (this.in_flight.has(record.msg_id) || (!early && lastChangeMs(record) > cutoff_ms)) continue;
      out.push(record);
    }
    if (out.length === 0) return 0;
    this.archive.append(out);
    const now_ms = this.clock.now().getTime();
    for (const record of out) {
      this.transfers.delete(record.msg_id);
      this.retired_ids.set(record.msg_id, now_ms);
    }
    this.forgetRetiredIds(now_ms);
    this.retired_count += out.length;
    return out.length;
  }

  /** Retired message ids past the window, or the oldest past the cap (a batch a pass: more go next time). */
  private forgetRetiredIds(now_ms: number): void {
    let forgotten = 0;
    for (const [msg_id, retired_ms] of this.retired_ids.entries()) {
      if (forgotten >= 2 * RAIL_LIMITS.retire_batch_max) break;
      if (this.retired_ids.size <= RAIL_LIMITS.retired_ids_max && now_ms - retired_ms <= RAIL_LIMITS.retired_id_window_ms) break;
      this.retired_ids.delete(msg_id);
      forgotten += 1;
    }
  }

  private retireDeposits(early: boolean): number {
    const cutoff_ms = this.clock.now().getTime() - this.retention_ms;
    const out: DepositRecord[] = [];
    let walked = 0;
    for (const record of this.deposits.values()) {
      if (out.length >= RAIL_LIMITS.retire_batch_max || walked++ >= 2 * RAIL_LIMITS.retire_batch_max) break;
      if (!early && Date.parse(record.received_at) > cutoff_ms) break;
      if (!early && lastChangeMs(record) > cutoff_ms) continue; // sent back lately
      out.push(record);
    }
    if (out.length === 0) return 0;
    this.archive.append(out);
    for (const record of out) this.deposits.delete(record.deposit_id);
    this.retired_count += out.length;
    return out.length;
  }

  railViews(): { rail: Rail; open: boolean; forced: "open" | "closed" | null; per_item_max: number | null; resend: ResendAnswer }[] {
    return RAILS.map((rail) => ({
      rail, open: this.isOpen(rail), forced: this.state.forced[rail] ?? null, per_item_max: this.state.caps[rail] === null ? null : Number(this.state.caps[rail]),
      resend: this.state.resend?.[rail] ?? "original",
    }));
  }
}

/** Archived records then those in memory, each once (memory wins: it is newer), in arrival order. */
function merged<T extends RailRecord>(archived: readonly T[], live: readonly T[], id: (record: T) => string): T[] {
  const live_ids = new Set(live.map(id));
  return [...archived.filter((record) => !live_ids.has(id(record))), ...live].sort((a, b) => a.received_at.localeCompare(b.received_at));
}
