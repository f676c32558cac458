import { hash } from "node:crypto";
import type { Clock } from "../kernel/clock.ts";
import { AMOUNT_FEN_MAX, networkFeeFen } from "../kernel/money.ts";
import { RecordArchive } from "./archive.ts";
import { beijingCompact, beijingParts, settlementDate } from "./calendar.ts";
import { bankByCode, buildCatalogue } from "./catalogue.ts";
import { CapacityError, SANDBOX_LIMITS } from "./limits.ts";
import { UNIFIED_NETWORKS, type Card, type DeclineReason, type EngineResult, type NetworkId } from "./model.ts";
import { SandboxState, type StateTable } from "./persistence.ts";
import { Rng } from "./rng.ts";
import { SmsInbox } from "./sms.ts";

/** What the network charges the PI per successful debit (refunds are free). */
export const NETWORK_FEES: Record<NetworkId, { bps: number; fixed_fen: bigint }> = {
  netsunion: { bps: 4, fixed_fen: 0n },
  unionpay_nocard: { bps: 5, fixed_fen: 0n },
  unionpay_quickpay: { bps: 6, fixed_fen: 10n },
};

const NETWORK_LABELS: Record<NetworkId, string> = {
  netsunion: "网联",
  unionpay_nocard: "银联无卡",
  unionpay_quickpay: "银联快捷",
};

const DAY_MS = 24 * 60 * 60 * 1000;
const ALNUM = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";

export interface CardElements {
  card_number: string;
  holder_name: string;
  id_number: string;
  phone: string;
  cvn2: string | null;
  expiry: string | null;
}

export interface SignRequest {
  network: NetworkId;
  txn_id: string;
  pi_id: string;
  card_number: string;
  otp: string;
  otp_sent_at: Date;
  expires_at: Date;
  wrong_attempts: number;
  resend_count: number;
  state: "otp_sent" | "signed" | "locked";
  agreement_no: string | null;
  verified: string;
}

export interface Agreement {
  agreement_no: string;
  network: NetworkId;
  pi_id: string;
  card_number: string;
  status: "active" | "unbound";
  origin: "signed" | "synced";
  created_at: Date;
  unbound_at: Date | null;
}

interface EngineCounters {
  otp_rng: number;
  id_rng: number;
  serial: number;
}

export type TxnKind = "sign_apply" | "sign_resend" | "sign_sync" | "pay" | "refund" | "unbind";

export interface TxnRecord {
  network: NetworkId;
  txn_id: string;
  kind: TxnKind;
  fingerprint: string;
  result: EngineResult<TxnValue>;
  created_at: Date;
}

/** What a successful operation produced; fields not relevant to a kind are null. */
export interface TxnValue {
  network_txn_id: string;
  agreement_no: string | null;
  verified: string | null;
  card_number: string | null;
  amount_fen: bigint | null;
  fee_fen: bigint | null;
  order_id: string | null;
  original_txn_id: string | null;
  settlement_date: string | null;
  trace_no: string | null;
  refunded_fen: bigint;
}

export interface PayRequest {
  network: NetworkId;
  txn_id: string;
  pi_id: string;
  agreement_no: string;
  amount_fen: bigint;
  order_id: string;
}

export interface RefundRequest {
  network: NetworkId;
  txn_id: string;
  pi_id: string;
  /** The original payment, by the PI's transaction id or by the network's. */
  original_txn_id: string | null;
  original_network_txn_id: string | null;
  amount_fen: bigint;
  order_id: string;
}

/** How much of the world stays in memory (tests make them small). */
export interface EngineOptions {
  /** Where retired debits and refunds go; in memory by default. */
  archive?: RecordArchive;
  records_max?: number;
  records_retention_ms?: number;
  agreements_max?: number;
}

export const ok = <T>(value: T): EngineResult<T> => ({ outcome: "ok", value });
export const declined = <T>(reason: DeclineReason, raw_code: string | null = null): EngineResult<T> => ({ outcome: "declined", reason, raw_code });

/** A fault that declines: a known reason, or a raw wire code the network answers verbatim. */
export type ForcedDecline = { reason: DeclineReason; raw_code: string | null } | null;

export function fingerprint(parts: readonly (string | bigint | null)[]): string {
  return hash("sha256", JSON.stringify(parts.map((p) => (p === null ? null : String(p)))), "hex");
}

/**
 * The banks and networks, network-agnostic: cards, sign requests and OTPs, agreements, debits and
 * refunds. Wire formats live in `wire/`; this class answers in `EngineResult`s. Its world lives in
 * `SandboxState` tables (kept in the data directory): every change is stored before the answer.
 *
 * The world stays bounded: a transaction is kept in memory for `records_retention_ms` (its
 * idempotent repeat, its status query), at most `records_max` of them, and is then retired — in
 * creation order, a bounded batch per turn of the event loop. A retired successful debit or refund
 * goes to the `RecordArchive` (its day's statement, a late status query, a refund, which `recall`s
 * its original into memory first); anything else retired is forgotten (a repeat of its id is a new
 * transaction, a query of it `original_not_found`). Only when every record is younger than the
 * retention and the table is full is a new transaction refused (`CapacityError`). Past days'
 * spending, expired sign requests and agreements unbound before the retention are forgotten too.
 * Active agreements are never forgotten (real networks keep them): at most `agreements_max` of
 * them and the recently unbound together, a new one past that is refused (`CapacityError`).
 */
export class Engine {
  readonly cards: StateTable<Card>;
  readonly sms: SmsInbox;
  private readonly sign_requests: StateTable<SignRequest>;
  private readonly agreements: StateTable<Agreement>;
  private readonly records: StateTable<TxnRecord>;
  /** An index over `records`, rebuilt at load. */
  private readonly by_network_txn_id = new Map<string, TxnRecord>();
  private readonly spent_fen: StateTable<bigint>;
  private readonly counters: StateTable<EngineCounters>;
  private otp_rng: Rng;
  private id_rng: Rng;
  private serial = 0;
  /** Counts records created by this process: a caller tells a first execution from an idempotent repeat. */
  created_count = 0;
  /** Counts records retired by this process (tests, logs). */
  retired_count = 0;
  readonly archive: RecordArchive;
  private readonly records_max: number;
  private readonly retention_ms: number;
  private readonly agreements_max: number;
  private retire_scheduled = false;
  /** No retirement pass before this (clock ms): the oldest record is younger than the retention until then. */
  private retire_due_ms = 0;
  /** When the side tables (spending, sign requests, agreements) were last swept. */
  private side_swept_at_ms = 0;

  constructor(
    readonly seed: number,
    readonly clock: Clock,
    state: SandboxState = SandboxState.inMemory(),
    options: EngineOptions = {},
  ) {
    this.archive = options.archive ?? RecordArchive.inMemory();
    this.records_max = options.records_max ?? SANDBOX_LIMITS.records_max;
    this.retention_ms = options.records_retention_ms ?? SANDBOX_LIMITS.records_retention_ms;
    this.agreements_max = options.agreements_max ?? SANDBOX_LIMITS.agreements_max;
    this.cards = state.table<Card>("engine.cards");
    this.sms = new SmsInbox(state.table("engine.sms"));
    this.sign_requests = state.table<SignRequest>("engine.sign_requests");
    this.agreements = state.table<Agreement>("engine.agreements");
    this.records = state.table<TxnRecord>("engine.records");
    this.spent_fen = state.table<bigint>("engine.spent_fen");
    this.counters = state.table<EngineCounters>("engine.counters");
    // A world already on disk wins over the seed's catalogue: its cards have balances and history.
    if (this.cards.size === 0) for (const card of buildCatalogue(seed)) this.cards.set(card.card_number, card);
    for (const record of this.records.values()) this.indexRecord(record);
    const saved = this.counters.get("engine");
    this.otp_rng = saved ? new Rng(saved.otp_rng) : Rng.derive(seed, "otp");
    this.id_rng = saved ? new Rng(saved.id_rng) : Rng.derive(seed, "ids");
    this.serial = saved?.serial ?? 0;
  }

  addCard(card: Card): void {
    if (this.cards.size >= SANDBOX_LIMITS.cards_max) throw new CapacityError("cards");
    this.cards.set(card.card_number, card);
  }

  // --- signing -------------------------------------------------------------------------------

  signApply(network: NetworkId, txn_id: string, pi_id: string, elements: CardElements, forced: ForcedDecline): EngineResult<TxnValue> {
    const print = fingerprint(["sign_apply", pi_id, ...Object.values(elements)]);
    return this.once(network, txn_id, "sign_apply", print, forced, () => {
      const card = this.cards.get(elements.card_number);
      const problem = this.checkElements(card, elements);
      if (problem) return declined(problem);
      if (this.sign_requests.size >= SANDBOX_LIMITS.sign_requests_max) throw new CapacityError("sign requests");
      const request: SignRequest = {
        network, txn_id, pi_id, card_number: elements.card_number, otp: "", otp_sent_at: this.now(), expires_at: this.now(),
        wrong_attempts: 0, resend_count: 0, state: "otp_sent", agreement_no: null, verified: this.verifiedBitmap(card!),
      };
      this.sendOtp(request);
      this.sign_requests.set(this.key(network, txn_id), request);
      return ok(this.value({ card_number: elements.card_number }));
    });
  }

  signResend(network: NetworkId, txn_id: string, sign_txn_id: string, forced: ForcedDecline): EngineResult<TxnValue> {
    return this.once(network, txn_id, "sign_resend", fingerprint(["sign_resend", sign_txn_id]), forced, () => {
      const request = this.sign_requests.get(this.key(network, sign_txn_id));
      if (!request) return declined("sign_request_not_found");
      if (request.state !== "otp_sent") return declined("sign_request_closed");
      if (this.now().getTime() - request.otp_sent_at.getTime() < SANDBOX_LIMITS.otp_resend_interval_ms) return declined("otp_resend_too_soon");
      if (request.resend_count >= SANDBOX_LIMITS.otp_resends_max) return declined("otp_resend_limit");
      request.resend_count += 1;
      this.sendOtp(request);
      this.sign_requests.set(this.key(network, sign_txn_id), request);
      return ok(this.value({ card_number: request.card_number }));
    });
  }

  /** Confirm is keyed by the sign request: a mistyped code may be retried with the same id. */
  signConfirm(network: NetworkId, sign_txn_id: string, otp: string, forced: ForcedDecline): EngineResult<TxnValue> {
    const request = this.sign_requests.get(this.key(network, sign_txn_id));
    if (!request) return declined("sign_request_not_found");
    if (request.state === "signed") return ok(this.signedValue(request));
    if (forced) return declined(forced.reason, forced.raw_code);
    if (request.state === "locked") return declined("otp_attempts_exceeded");
    if (this.now() > request.expires_at) return declined("otp_expired");
    if (otp !== request.otp) {
      request.wrong_attempts += 1;
      if (request.wrong_attempts >= SANDBOX_LIMITS.otp_wrong_attempts_max) request.state = "locked";
      this.sign_requests.set(this.key(network, sign_txn_id), request);
      return declined(request.state === "locked" ? "otp_attempts_exceeded" : "otp_invalid");
    }
    const card = this.cards.get(request.card_number);
    if (!card || card.status !== "normal") return declined(card ? (card.status === "frozen" ? "card_frozen" : "card_lost") : "card_not_found");
    // The agreement first: a full table refuses (CapacityError) with the request still open, so the code can be confirmed later.
    request.agreement_no = this.agreementFor(network, request.pi_id, request.card_number, "signed").agreement_no;
    request.state = "signed";
    this.sign_requests.set(this.key(network, sign_txn_id), request);
    return ok(this.signedValue(request));
  }

  /** 三库统一: honour an agreement made through another unified network, without an OTP. */
  signSync(network: NetworkId, txn_id: string, pi_id: string, elements: CardElements, forced: ForcedDecline): EngineResult<TxnValue> {
    const print = fingerprint(["sign_sync", pi_id, ...Object.values(elements)]);
    return this.once(network, txn_id, "sign_sync", print, forced, () => {
      if (!UNIFIED_NETWORKS.includes(network)) return declined("not_supported");
      const card = this.cards.get(elements.card_number);
      const problem = this.checkElements(card, elements);
      if (problem) return declined(problem);
      const own = this.activeAgreement(network, pi_id, elements.card_number);
      // The PI has a different id at each network; the sandbox serves one PI, so any active
      // agreement of this card at another unified network is this PI's.
      const elsewhere = UNIFIED_NETWORKS.some((other) => other !== network && this.activeAgreementAnyPi(other, elements.card_number));
      if (!own && !(elsewhere && bankByCode(card!.bank_code)?.unified)) return declined("not_signed");
      const agreement = own ?? this.agreementFor(network, pi_id, elements.card_number, "synced");
      return ok(this.value({ agreement_no: agreement.agreement_no, card_number: elements.card_number, verified: this.verifiedBitmap(card!) }));
    });
  }

  unbind(network: NetworkId, txn_id: string, pi_id: string, agreement_no: string, forced: ForcedDecline): EngineResult<TxnValue> {
    return this.once(network, txn_id, "unbind", fingerprint(["unbind", pi_id, agreement_no]), forced, () => {
      const agreement = this.agreements.get(agreement_no);
      if (!agreement || agreement.network !== network || agreement.pi_id !== pi_id) return declined("agreement_not_found");
      if (agreement.status === "active") {
        agreement.status = "unbound";
        agreement.unbound_at = this.now();
        this.agreements.set(agreement.agreement_no, agreement);
      }
      return ok(this.value({ agreement_no, card_number: agreement.card_number }));
    });
  }

  /** The cardholder cancels at the bank: every active agreement of the card at that network ends. */
  unbindByHolder(network: NetworkId, card_number: string): Agreement[] {
    const ended: Agreement[] = [];
    for (const agreement of this.agreements.values()) {
      if (agreement.network !== network || agreement.card_number !== card_number || agreement.status !== "active") continue;
      agreement.status = "unbound";
      agreement.unbound_at = this.now();
      this.agreements.set(agreement.agreement_no, agreement);
      ended.push({ ...agreement });
    }
    return ended;
  }

  signRequest(network: NetworkId, txn_id: string): SignRequest | undefined {
    return this.sign_requests.get(this.key(network, txn_id));
  }

  // --- money ---------------------------------------------------------------------------------

  pay(request: PayRequest, forced: ForcedDecline): EngineResult<TxnValue> {
    const print = fingerprint(["pay", request.pi_id, request.agreement_no, request.amount_fen, request.order_id]);
    return this.once(request.network, request.txn_id, "pay", print, forced, () => {
      if (request.amount_fen < 1n || request.amount_fen > AMOUNT_FEN_MAX) return declined("bank_declined");
      const agreement = this.agreements.get(request.agreement_no);
      if (!agreement || agreement.network !== request.network || agreement.pi_id !== request.pi_id) return declined("agreement_not_found");
      if (agreement.status !== "active") return declined("agreement_inactive");
      const card = this.cards.get(agreement.card_number);
      if (!card) return declined("card_not_found");
      const problem = this.debitProblem(card, request.amount_fen);
      if (problem) return declined(problem);
      card.balance_fen -= request.amount_fen;
      this.cards.set(card.card_number, card);
      const day_key = this.dayKey(card.card_number);
      this.spent_fen.set(day_key, (this.spent_fen.get(day_key) ?? 0n) + request.amount_fen);
      const fees = NETWORK_FEES[request.network];
      return ok(this.moneyValue(request.network, {
        agreement_no: agreement.agreement_no, card_number: card.card_number, amount_fen: request.amount_fen,
        fee_fen: networkFeeFen(request.amount_fen, fees.bps, fees.fixed_fen), order_id: request.order_id,
      }));
    });
  }

  refund(request: RefundRequest, forced: ForcedDecline): EngineResult<TxnValue> {
    const print = fingerprint(["refund", request.pi_id, request.original_txn_id, request.original_network_txn_id, request.amount_fen, request.order_id]);
    return this.once(request.network, request.txn_id, "refund", print, forced, () => {
      const original = this.originalPayment(request);
      if (!original) return declined("original_not_found");
      if (original.result.outcome !== "ok") return declined("original_not_successful");
      const paid = original.result.value;
      if (this.now().getTime() - original.created_at.getTime() > SANDBOX_LIMITS.refund_window_days * DAY_MS) return declined("refund_window_expired");
      if (request.amount_fen < 1n || paid.refunded_fen + request.amount_fen > (paid.amount_fen ?? 0n)) return declined("refund_exceeds_original");
      const card = paid.card_number ? this.cards.get(paid.card_number) : undefined;
      if (!card) return declined("card_not_found");
      paid.refunded_fen += request.amount_fen;
      this.records.set(this.key(original.network, original.txn_id), original);
      card.balance_fen += request.amount_fen; // only ever back to the original card
      this.cards.set(card.card_number, card);
      return ok(this.moneyValue(request.network, {
        agreement_no: paid.agreement_no, card_number: card.card_number, amount_fen: request.amount_fen, fee_fen: 0n,
        order_id: request.order_id, original_txn_id: original.txn_id,
      }));
    });
  }

  query(network: NetworkId, txn_id: string): TxnRecord | undefined {
    return this.records.get(this.key(network, txn_id));
  }

  /**
   * Brings a retired debit or refund back into memory from the archive (a refund of it, a status
   * query), so the synchronous operations find it; it is retired again later with its new value.
   */
  async recall(network: NetworkId, by: { txn_id: string } | { network_txn_id: string }): Promise<void> {
    const live = "txn_id" in by ? this.query(network, by.txn_id) : this.queryByNetworkId(network, by.network_txn_id);
    if (live) return;
    const record = await this.archive.find(network, by);
    if (!record || this.records.has(this.key(network, record.txn_id))) return; // another call brought it back meanwhile
    if (this.records.size >= this.records_max) throw new CapacityError("transactions");
    this.records.set(this.key(network, record.txn_id), record);
    this.indexRecord(record);
  }

  queryByNetworkId(network: NetworkId, network_txn_id: string): TxnRecord | undefined {
    return this.by_network_txn_id.get(this.key(network, network_txn_id));
  }

  /** That settlement day's successful debits and refunds, in the order they happened: the archived ones, then those in memory. */
  async statement(network: NetworkId, date: string): Promise<TxnRecord[]> {
    // Memory first: a retirement while the archive is read moves records from memory to the
    // archive's end, past what the read takes (the file's size when it began); taken first, they
    // are in one of the two (they lost the statement before).
    const live: TxnRecord[] = [];
    for (const record of this.records.values()) {
      if (live.length >= SANDBOX_LIMITS.statement_records_max) break;
      if (record.network !== network || (record.kind !== "pay" && record.kind !== "refund")) continue;
      if (record.result.outcome !== "ok" || record.result.value.settlement_date !== date) continue;
      live.push(record);
    }
    const out = await this.archive.day(network, date, SANDBOX_LIMITS.statement_records_max);
    const archived = new Set(out.map((record) => record.txn_id));
    for (const record of live) {
      if (out.length >= SANDBOX_LIMITS.statement_records_max) break;
      if (!archived.has(record.txn_id)) out.push(record); // one recalled for a refund is in both
    }
    return out;
  }

  get records_in_memory(): number {
    return this.records.size;
  }

  /**
   * Retires at most `batch_max` of the oldest transactions older than the retention (creation
   * order is the table's order: a refund rewrites its original in place). The archive is written
   * before the deletions are journalled: a crash between archives them again, which readers allow.
   */
  retire(batch_max: number = SANDBOX_LIMITS.records_retire_batch_max): number {
    const now_ms = this.now().getTime();
    const cutoff_ms = now_ms - this.retention_ms;
    const retired: [string, TxnRecord][] = [];
    let oldest_kept_ms = now_ms;
    for (const entry of this.records.entries()) {
      const created_ms = entry[1].created_at.getTime();
      if (retired.length >= batch_max || created_ms > cutoff_ms) {
        oldest_kept_ms = Math.min(created_ms, now_ms);
        break;
      }
      retired.push(entry);
    }
    // The next pass when the oldest kept comes of age, at most one a second: a pass walks the
    // table from its start, where a Map keeps the holes of deleted entries until it rehashes.
    this.retire_due_ms = Math.max(oldest_kept_ms + this.retention_ms, now_ms + SANDBOX_LIMITS.records_retire_interval_ms);
    if (retired.length === 0) return 0;
    this.archive.append(retired.map(([, record]) => record).filter((record) => RecordArchive.keeps(record)));
    for (const [key, record] of retired) {
      this.records.delete(key);
      if (record.result.outcome !== "ok" || record.result.value.network_txn_id === "") continue;
      const index_key = this.key(record.network, record.result.value.network_txn_id);
      if (this.by_network_txn_id.get(index_key) === record) this.by_network_txn_id.delete(index_key);
    }
    this.retired_count += retired.length;
    this.sweepSideTables();
    return retired.length;
  }

  /** A retirement pass in a later turn; another right after it while batches come out full. */
  private scheduleRetire(): void {
    if (this.retire_scheduled) return;
    this.retire_scheduled = true;
    setImmediate(() => {
      this.retire_scheduled = false;
      if (this.retire() >= SANDBOX_LIMITS.records_retire_batch_max) this.scheduleRetire();
    });
  }

  /** Past days' spending, sign requests long expired, agreements unbound before the retention: at most once per retention period. */
  private sweepSideTables(): void {
    const now_ms = this.now().getTime();
    if (now_ms - this.side_swept_at_ms < this.retention_ms) return;
    this.side_swept_at_ms = now_ms;
    const today = beijingParts(this.now()).date;
    for (const key of [...this.spent_fen.keys()]) if (key.slice(key.lastIndexOf(":") + 1) < today) this.spent_fen.delete(key);
    for (const [key, request] of [...this.sign_requests.entries()]) {
      if (now_ms - request.expires_at.getTime() > SANDBOX_LIMITS.sign_request_retention_ms) this.sign_requests.delete(key);
    }
    for (const [key, agreement] of [...this.agreements.entries()]) {
      if (agreement.unbound_at && now_ms - agreement.unbound_at.getTime() > this.retention_ms) this.agreements.delete(key);
    }
  }

  // --- internals -----------------------------------------------------------------------------

  private once(network: NetworkId, txn_id: string, kind: TxnKind, print: string, forced: ForcedDecline, run: () => EngineResult<TxnValue>): EngineResult<TxnValue> {
    const key = this.key(network, txn_id);
    const existing = this.records.get(key);
    if (existing) return existing.kind === kind && existing.fingerprint === print ? existing.result : declined("duplicate_transaction");
    if (this.records.size >= this.records_max && this.retire() === 0) throw new CapacityError("transactions");
    const result = forced ? declined<TxnValue>(forced.reason, forced.raw_code) : run();
    const record: TxnRecord = { network, txn_id, kind, fingerprint: print, result, created_at: this.now() };
    this.records.set(key, record);
    this.created_count += 1;
    this.indexRecord(record);
    if (this.now().getTime() >= this.retire_due_ms) this.scheduleRetire();
    return result;
  }

  private indexRecord(record: TxnRecord): void {
    if (record.result.outcome === "ok" && record.result.value.network_txn_id !== "") this.by_network_txn_id.set(this.key(record.network, record.result.value.network_txn_id), record);
  }

  /** The random streams and the serial continue across restarts: ids and OTPs never repeat. */
  private saveCounters(): void {
    this.counters.set("engine", { otp_rng: this.otp_rng.position, id_rng: this.id_rng.position, serial: this.serial });
  }

  private checkElements(card: Card | undefined, elements: CardElements): DeclineReason | null {
    if (!card) return "card_not_found";
    if (card.status === "frozen") return "card_frozen";
    if (card.status === "lost") return "card_lost";
    if (card.holder_name !== elements.holder_name) return "name_mismatch";
    if (card.id_number !== elements.id_number) return "id_mismatch";
    if (card.phone !== elements.phone) return "phone_mismatch";
    if (card.card_type === "credit") {
      if (!elements.cvn2 || !elements.expiry) return "credit_elements_required";
      if (card.cvn2 !== elements.cvn2) return "cvn2_mismatch";
      if (card.expiry !== elements.expiry) return "expiry_mismatch";
    }
    return null;
  }

  private debitProblem(card: Card, amount_fen: bigint): DeclineReason | null {
    if (card.status === "frozen") return "card_frozen";
    if (card.status === "lost") return "card_lost";
    const spent = this.spent_fen.get(this.dayKey(card.card_number)) ?? 0n;
    if (spent + amount_fen > card.daily_limit_fen) return "daily_limit_exceeded";
    if (card.balance_fen < amount_fen) return "insufficient_funds";
    return null;
  }

  private originalPayment(request: RefundRequest): TxnRecord | undefined {
    const record = request.original_txn_id
      ? this.records.get(this.key(request.network, request.original_txn_id))
      : request.original_network_txn_id
        ? this.by_network_txn_id.get(this.key(request.network, request.original_network_txn_id))
        : undefined;
    return record && record.kind === "pay" ? record : undefined;
  }

  private sendOtp(request: SignRequest): void {
    const card = this.cards.get(request.card_number);
    const bank = card ? bankByCode(card.bank_code) : undefined;
    request.otp = this.otp_rng.digits(SANDBOX_LIMITS.otp_digits);
    this.saveCounters();
    request.otp_sent_at = this.now();
    request.expires_at = new Date(this.now().getTime() + SANDBOX_LIMITS.otp_ttl_ms);
    const minutes = SANDBOX_LIMITS.otp_ttl_ms / 60_000;
    const text = `【${bank?.bank_name ?? "银行"}】您正在通过${NETWORK_LABELS[request.network]}签约快捷支付，尾号${request.card_number.slice(-4)}，验证码${request.otp}，${minutes}分钟内有效，请勿泄露。`;
    this.sms.send({ at: this.now(), phone: card?.phone ?? "", text, otp: request.otp });
  }

  private agreementFor(network: NetworkId, pi_id: string, card_number: string, origin: Agreement["origin"]): Agreement {
    const existing = this.activeAgreement(network, pi_id, card_number);
    if (existing) return existing;
    if (this.agreements.size >= this.agreements_max) {
      throw new CapacityError(`agreements (${this.agreements_max}, active or unbound within the retention); unbind some or raise SANDBOX_AGREEMENTS_MAX`);
    }
    const agreement: Agreement = {
      agreement_no: this.agreementNumber(network), network, pi_id, card_number, status: "active", origin, created_at: this.now(), unbound_at: null,
    };
    this.agreements.set(agreement.agreement_no, agreement);
    return agreement;
  }

  private activeAgreement(network: NetworkId, pi_id: string, card_number: string): Agreement | undefined {
    for (const agreement of this.agreements.values()) {
      if (agreement.network === network && agreement.pi_id === pi_id && agreement.card_number === card_number && agreement.status === "active") return agreement;
    }
    return undefined;
  }

  private activeAgreementAnyPi(network: NetworkId, card_number: string): Agreement | undefined {
    for (const agreement of this.agreements.values()) {
      if (agreement.network === network && agreement.card_number === card_number && agreement.status === "active") return agreement;
    }
    return undefined;
  }

  /** Each network numbers agreements its own way. */
  private agreementNumber(network: NetworkId): string {
    const alnum = (count: number) => {
      const drawn = Array.from({ length: count }, () => this.id_rng.pick([...ALNUM])).join("");
      this.saveCounters();
      return drawn;
    };
    switch (network) {
      case "netsunion":
        return `SN${beijingParts(this.now()).date.replace(/-/g, "")}${alnum(12)}`;
      case "unionpay_nocard":
        return `UPNC${alnum(20)}`;
      case "unionpay_quickpay":
        return `UPQP${alnum(16)}`;
    }
  }

  private networkTxnId(network: NetworkId): string {
    this.serial += 1;
    this.saveCounters();
    const stamp = beijingCompact(this.now());
    return network === "netsunion" ? `N${stamp.slice(0, 8)}${String(this.serial).padStart(12, "0")}` : `${stamp.slice(2)}${String(this.serial).padStart(9, "0")}`;
  }

  /**
   * Every field written out in one literal (one object shape for every record): two object
   * spreads per payment here were about 1 % of the sandbox's CPU.
   */
  private value(fields: Partial<TxnValue> & { card_number: string | null }, network_txn_id = ""): TxnValue {
    return {
      network_txn_id, agreement_no: fields.agreement_no ?? null, verified: fields.verified ?? null, amount_fen: fields.amount_fen ?? null,
      fee_fen: fields.fee_fen ?? null, order_id: fields.order_id ?? null, original_txn_id: fields.original_txn_id ?? null,
      settlement_date: fields.settlement_date ?? null, trace_no: fields.trace_no ?? null, refunded_fen: fields.refunded_fen ?? 0n, card_number: fields.card_number,
    };
  }

  private moneyValue(network: NetworkId, fields: Partial<TxnValue> & { card_number: string }): TxnValue {
    const network_txn_id = this.networkTxnId(network);
    fields.settlement_date = settlementDate(this.now());
    fields.trace_no = String(this.serial % 1_000_000).padStart(6, "0");
    return this.value(fields, network_txn_id);
  }

  private signedValue(request: SignRequest): TxnValue {
    return this.value({ agreement_no: request.agreement_no, card_number: request.card_number, verified: request.verified });
  }

  private verifiedBitmap(card: Card): string {
    return card.card_type === "credit" ? "111111" : "111100";
  }

  private dayKey(card_number: string): string {
    return `${card_number}:${beijingParts(this.now()).date}`;
  }

  private key(network: NetworkId, id: string): string {
    return `${network}:${id}`;
  }

  private now(): Date {
    return this.clock.now();
  }
}
