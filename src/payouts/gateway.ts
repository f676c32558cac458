import { ensurePaycoreChannelKeys, networkPost, NetworkKeys } from "../channels/index.ts";
import { assert } from "../kernel/assert.ts";
import type { Rail } from "../kernel/cnaps/hours.ts";
import { openMessage, signMessage, type CnapsMessage, type CreditTransfer, type Opened, type Party, type StatusReport } from "../kernel/cnaps/iso20022.ts";
import type { Fen } from "../kernel/money.ts";

/**
 * paycore's connection to the CNAPS rails through its reserve bank's front-end: signed ISO 20022
 * messages over HTTP (the sandbox's `/cnaps/gateway` in development and tests). The outcome of a
 * call is only what the rail stated; no answer, or one that does not verify, is `pending` and the
 * sweeper asks again by status query with the same message id.
 */
export type RailOutcome =
  | { status: "succeeded"; settled_at: Date }
  | { status: "accepted" }
  | { status: "rejected"; code: string }
  | { status: "pending"; cause: string };

export interface RailCredit {
  msg_id: string;
  end_to_end_id: string;
  rail: Rail;
  amount: Fen;
  creditor: Party;
  purpose: string;
}

export interface RailGateway {
  /** The institution's reserve account: the debtor of every payout. */
  readonly reserve_account: Party;
  send(credit: RailCredit, now: Date): Promise<RailOutcome>;
  /** The rail's state of a message; `not_found` when it never arrived (safe to send again). */
  query(msg_id: string, now: Date): Promise<RailOutcome | { status: "not_found" }>;
  /** Sends a deposit back to its payer (pacs.004 naming the deposit's entry reference). */
  returnDeposit(input: { msg_id: string; entry_ref: string; amount: Fen; reason: string }, now: Date): Promise<RailOutcome>;
  /** Verifies and reads a message the rails pushed to paycore. */
  open(raw: string): Opened;
}

export const GATEWAY_TIMEOUT_MS = 10_000;
/** A status report is a few hundred bytes; anything past this is not one. */
const GATEWAY_ANSWER_BYTES_MAX = 64 * 1024;

/** Rejections that are the rail's and not the payee's: the payout waits for another rail or time. */
export const RAIL_REFUSALS: ReadonlySet<string> = new Set(["CLSD", "OCAP", "NIBP"]);

/**
 * Rejections that say "this message id (or payment) was already received": a rail answers them to
 * exactly the resend paycore makes after a crash or a lost answer, so the first message may have
 * settled. They are never a failure: the outcome is unknown and the status query of the original
 * message decides. DUPL is the sandbox's code; AM05 and DU01–DU05 the ISO 20022 duplicate reasons.
 */
export const DUPLICATE_REFUSALS: ReadonlySet<string> = new Set(["DUPL", "AM05", "DU01", "DU02", "DU03", "DU04", "DU05"]);

export function outcomeOfReport(report: StatusReport): RailOutcome {
  switch (report.status) {
    case "ACSC":
      return { status: "succeeded", settled_at: report.settled_at ?? report.created_at };
    case "ACSP":
      return { status: "accepted" };
    case "PDNG":
      return { status: "pending", cause: "the rail has not decided" };
    case "RJCT":
      return { status: "rejected", code: report.reason ?? "RJCT" };
  }
}

export class HttpRailGateway implements RailGateway {
  private readonly base_url: string;
  private readonly network: NetworkKeys;
  private readonly private_key_hex: string;

  constructor(
    base_url: string,
    data_dir: string,
    readonly reserve_account: Party,
    private readonly timeout_ms = GATEWAY_TIMEOUT_MS,
  ) {
    assert(/^https?:\/\//.test(base_url), "rail gateway URL must be http(s)");
    this.base_url = base_url.replace(/\/+$/, "");
    this.network = new NetworkKeys(data_dir);
    this.private_key_hex = ensurePaycoreChannelKeys(data_dir, new Date()).netsunion.private_key_hex;
  }

  async send(credit: RailCredit, now: Date): Promise<RailOutcome> {
    const message: CreditTransfer = { type: "pacs.008", created_at: now, debtor: this.reserve_account, ...credit };
    const answer = await this.exchange(message, credit.msg_id);
    return answer.status === "not_found" ? { status: "pending", cause: "the rail did not find the message" } : answer;
  }

  async query(msg_id: string, now: Date): Promise<RailOutcome | { status: "not_found" }> {
    const suffix = now.getTime().toString(36).toUpperCase();
    return this.exchange({ type: "pacs.028", msg_id: `Q${suffix}${msg_id}`.slice(0, 64), created_at: now, original_msg_id: msg_id }, msg_id);
  }

  async returnDeposit(input: { msg_id: string; entry_ref: string; amount: Fen; reason: string }, now: Date): Promise<RailOutcome> {
    const answer = await this.exchange({ type: "pacs.004", msg_id: input.msg_id, created_at: now, original_msg_id: input.entry_ref, end_to_end_id: input.entry_ref, amount: input.amount, reason: input.reason }, input.msg_id);
    return answer.status === "not_found" ? { status: "pending", cause: "the rail did not find the deposit" } : answer;
  }

  open(raw: string): Opened {
    const key = this.network.netsunion();
    if (!key) return { ok: false, reason: "bad_signature", detail: "the rails' public key is not in the exchange directory" };
    return openMessage(raw, key.public_key_hex);
  }

  private async exchange(message: CnapsMessage, expected_original: string): Promise<RailOutcome | { status: "not_found" }> {
    const res = await networkPost({
      url: `${this.base_url}/cnaps/gateway`,
      content_type: "application/xml",
      body: signMessage(message, this.private_key_hex),
      timeout_ms: this.timeout_ms,
      answer_bytes_max: GATEWAY_ANSWER_BYTES_MAX,
      // A status query changes nothing at the rail; a credit or a return is money, never sent twice
      // by the transport: its lost answer is settled by the status query (src/kernel/http-client.ts).
      resend: message.type === "pacs.028" ? "once_on_stale_socket" : "never",
    });
    if (res.kind !== "response") return { status: "pending", cause: `no answer: ${res.kind === "timeout" ? "timed out" : res.message}` };
    if (res.status === 404 && message.type === "pacs.028") return { status: "not_found" };
    if (res.status !== 200) return { status: "pending", cause: `rail gateway answered ${res.status}` };
    const opened = this.open(res.body);
    if (!opened.ok) return { status: "pending", cause: `unreadable answer (${opened.reason})` };
    const report = opened.message;
    if (report.type !== "pacs.002" || report.original_msg_id !== expected_original) return { status: "pending", cause: "answer is not about this message" };
    return outcomeOfReport(report);
  }
}
