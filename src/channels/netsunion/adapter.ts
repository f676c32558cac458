import type { Clock } from "../../kernel/clock.ts";
import { assert } from "../../kernel/assert.ts";
import { AMOUNT_FEN_MAX, AMOUNT_YUAN_DIGITS_MAX } from "../../kernel/money.ts";
import { sm2Encrypt, sm2Sign, sm2Verify } from "../../kernel/crypto/sm2.ts";
import { newSm4Key, sm4CbcEncrypt } from "../../kernel/crypto/sm4.ts";
import { postText, type Transport } from "../http.ts";
import type { NetworkKeys, Sm2Own } from "../keys.ts";
import { downloadStatement, fileRef } from "../statement-download.ts";
import {
  CHANNEL_LIMITS, ReplayGuard, assertAmount, assertTxnId, beijingIsoLocal, decodeVerified, failed, isFresh, parseBeijing, pending, randomHex,
} from "../support.ts";
import type {
  CardElements, ChannelAdapter, ChannelCapabilities, ChannelNotification, MoneyResult, NotificationInspection, NotificationParse, Outcome, PayRequest,
  QueryRequest, QueryResult, RefundRequest, ResendOtpRequest, ResendOtpResult, SignApplyRequest, SignApplyResult, SignConfirmRequest,
  SignSyncRequest, SignedResult, StatementRequest, StatementResult, UnbindRequest, UnbindResult,
} from "../types.ts";
import { CATEGORY_KINDS, NETSUNION_BIZ_REASONS, NETSUNION_SYSTEM_CODES, NETSUNION_SYS_OK } from "./codes.ts";
import { buildDocument, group, parseDocument, type XmlTree } from "./xml.ts";

const NAMESPACE = "namespace_string";
const MESSAGE_TYPES = {
  sign_apply: "epcc.101.001.01", sign_confirm: "epcc.103.001.01", sign_resend: "epcc.105.001.01", unbind: "epcc.107.001.01",
  sign_sync: "epcc.109.001.01", pay: "epcc.201.001.01", refund: "epcc.203.001.01", query: "epcc.301.001.01", statement: "epcc.401.001.01",
} as const;
const NOTIFY_RESULT = "epcc.501.001.01";
const NOTIFY_UNBIND = "epcc.503.001.01";

export const NETSUNION_CAPABILITIES: ChannelCapabilities = {
  sign: true, sign_sync: true, unified_registry: true, legacy: false, credit_cards: true, refund: true,
  refund_window_days: 180, unbind: true, unbind_notice: true, statement: true,
};

export interface NetsUnionConfig {
  endpoint_url: string;
  /** paycore's institution id at NetsUnion (`InstgId` / `IssrId`). */
  institution_id: string;
  own_key: Sm2Own;
  network_keys: NetworkKeys;
}

/** A verified business answer, flattened from `BizInf`; or the reason there is none. */
type Answer = { kind: "biz"; biz: Record<string, string> } | { kind: "none"; outcome: Exclude<Outcome<never>, { status: "succeeded" }> };

// Room for every amount paycore accepts (AMOUNT_FEN_MAX): a narrower field made the largest
// amount unsendable, and the refused message left the payment `processing` until queries gave up.
const NETSUNION_AMOUNT = new RegExp(`^CNY(\\d{1,${AMOUNT_YUAN_DIGITS_MAX}})\\.(\\d{2})$`);

export function parseNetsUnionAmount(value: string | undefined): bigint | null {
  const m = NETSUNION_AMOUNT.exec(value ?? "");
  return m ? BigInt(m[1]!) * 100n + BigInt(m[2]!) : null;
}

function formatAmount(fen: bigint): string {
  assert(fen >= 1n && fen <= AMOUNT_FEN_MAX, "amount must be between 1 fen and the wire maximum");
  return `CNY${fen / 100n}.${(fen % 100n).toString().padStart(2, "0")}`;
}

function splitSignature(raw: string): { xml: string; signature: Buffer } | null {
  const m = /\{S:([A-Za-z0-9+/=]{16,400})\}\s*$/.exec(raw);
  return m ? { xml: raw.slice(0, m.index), signature: Buffer.from(m[1]!, "base64") } : null;
}

function flatten(tree: XmlTree | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tree ?? {})) if (typeof v === "string") out[k] = v;
  return out;
}

/** NetsUnion agreement payments: XML, SM2/SM3 signatures, SM4 fields in an SM2 envelope. */
export class NetsUnionAdapter implements ChannelAdapter {
  readonly channel_id = "netsunion" as const;
  readonly capabilities = NETSUNION_CAPABILITIES;
  private readonly replay: ReplayGuard;

  constructor(
    private readonly config: NetsUnionConfig,
    private readonly transport: Transport,
    private readonly clock: Clock,
  ) {
    this.replay = new ReplayGuard(clock);
  }

  async signApply(request: SignApplyRequest): Promise<SignApplyResult> {
    assertTxnId(request.txn_id, "txn_id");
    const answer = await this.call(MESSAGE_TYPES.sign_apply, { TrxId: request.txn_id }, request.card);
    return this.outcome(answer, (biz) => ({ phone_masked: biz.MobNoMsk ?? "" }));
  }

  async resendOtp(request: ResendOtpRequest): Promise<ResendOtpResult> {
    assertTxnId(request.txn_id, "txn_id");
    assertTxnId(request.sign_txn_id, "sign_txn_id");
    return this.outcome(await this.call(MESSAGE_TYPES.sign_resend, { TrxId: request.txn_id, OrgnlTrxId: request.sign_txn_id }, null), () => ({}));
  }

  async signConfirm(request: SignConfirmRequest): Promise<SignedResult> {
    assertTxnId(request.sign_txn_id, "sign_txn_id");
    const answer = await this.call(MESSAGE_TYPES.sign_confirm, { TrxId: request.sign_txn_id, AuthMsg: request.otp }, null);
    return this.signed(answer);
  }

  async signSync(request: SignSyncRequest): Promise<SignedResult> {
    assertTxnId(request.txn_id, "txn_id");
    return this.signed(await this.call(MESSAGE_TYPES.sign_sync, { TrxId: request.txn_id }, request.card));
  }

  async unbind(request: UnbindRequest): Promise<UnbindResult> {
    assertTxnId(request.txn_id, "txn_id");
    const answer = await this.call(MESSAGE_TYPES.unbind, { TrxId: request.txn_id, SgnNo: request.agreement_no }, null);
    return this.outcome(answer, () => ({ agreement_no: request.agreement_no }));
  }

  async pay(request: PayRequest): Promise<MoneyResult> {
    assertTxnId(request.txn_id, "txn_id");
    assertTxnId(request.order_id, "order_id");
    assertAmount(request.amount_fen);
    const body: Record<string, string> = { TrxId: request.txn_id, SgnNo: request.agreement_no, TrxAmt: formatAmount(request.amount_fen), OrdrId: request.order_id };
    if (request.description) body.OrdrDesc = request.description.slice(0, 128);
    return this.money(await this.call(MESSAGE_TYPES.pay, body, null), request.amount_fen);
  }

  async refund(request: RefundRequest): Promise<MoneyResult> {
    assertTxnId(request.txn_id, "txn_id");
    assertTxnId(request.original_txn_id, "original_txn_id");
    assertTxnId(request.order_id, "order_id");
    assertAmount(request.amount_fen);
    const body = { TrxId: request.txn_id, OrgnlTrxId: request.original_txn_id, TrxAmt: formatAmount(request.amount_fen), OrdrId: request.order_id };
    return this.money(await this.call(MESSAGE_TYPES.refund, body, null), request.amount_fen);
  }

  async query(request: QueryRequest): Promise<QueryResult> {
    assertTxnId(request.txn_id, "txn_id");
    const answer = await this.call(MESSAGE_TYPES.query, { TrxId: `Q${randomHex(12)}`, OrgnlTrxId: request.txn_id }, null);
    if (answer.kind === "none") return answer.outcome.status === "failed" ? pending("unclassified", `query refused: ${answer.outcome.message}`, answer.outcome.network_code) : answer.outcome;
    const biz = answer.biz;
    if (biz.BizStsCd === "01" && NETSUNION_BIZ_REASONS[biz.BizRtnCd ?? ""] === "original_not_found") return { status: "not_found", network_code: biz.BizRtnCd ?? "" };
    if (biz.BizStsCd !== "00") return pending("unclassified", `query answered ${biz.BizStsCd ?? "?"}`, biz.BizRtnCd ?? null);
    const kind = CATEGORY_KINDS[biz.OrgnlTrxCtgy as keyof typeof CATEGORY_KINDS];
    if (!kind) return pending("unclassified", `unknown original category ${biz.OrgnlTrxCtgy ?? "?"}`);
    const original = { ...biz, BizStsCd: biz.OrgnlBizStsCd ?? "", BizRtnCd: biz.OrgnlBizRtnCd ?? "", BizRtnDesc: "original" };
    return this.outcome({ kind: "biz", biz: original }, (b) => ({
      kind, network_txn_id: b.NetTrxId ?? null, agreement_no: b.SgnNo || null,
      amount_fen: parseNetsUnionAmount(b.TrxAmt), fee_fen: b.FeeAmt ? parseNetsUnionAmount(b.FeeAmt) : null, settlement_date: b.SttlmDt ?? null,
    }));
  }

  async fetchStatement(request: StatementRequest): Promise<StatementResult> {
    const answer = await this.call(MESSAGE_TYPES.statement, { TrxId: `S${randomHex(12)}`, SttlmDt: request.settlement_date }, null);
    const result = this.outcome(answer, (biz) => fileRef({ name: biz.FileNm, bytes: biz.FileSz, sha256: biz.FileDgst }));
    if (result.status !== "succeeded") return result;
    // The file sits next to the message endpoint, named by the signed answer.
    const file = await downloadStatement("netsunion", new URL(`files/${result.name}`, this.config.endpoint_url).toString(), result);
    return "status" in file ? file : { status: "succeeded", settlement_date: request.settlement_date, file };
  }

  parseNotification(input: { body: string }): NotificationParse {
    return this.inspectNotification(input).verify();
  }

  /** Checks in parseNotification's order: unsigned, malformed, unknown key, then (verify) signature, stale, replayed, not understood. */
  inspectNotification(input: { body: string }): NotificationInspection {
    const reject = (error: Extract<NotificationParse, { ok: false }>["error"], message: string): NotificationParse => ({ ok: false, error, message, ack: { status: 400, content_type: "text/plain", body: `FAIL ${error}` } });
    const ack = { status: 200, content_type: "text/plain", body: "SUCCESS" };
    const refused = (parse: NotificationParse): NotificationInspection => ({ unverified: null, ack, verify: () => parse });
    const signed = splitSignature(input.body);
    if (!signed) return refused(reject("unsigned", "no {S:…} signature"));
    let tree: XmlTree;
    try {
      tree = parseDocument(signed.xml);
    } catch (error) {
      return refused(reject("malformed", (error as Error).message));
    }
    const header = flatten(group(tree, "MsgHeader"));
    const network = this.config.network_keys.netsunion({ key_id: header.SignSN ?? "" });
    if (!network || header.SignSN !== network.key_id) return refused(reject("unknown_key", `unknown signer ${header.SignSN ?? "?"}`));
    const sent_at = parseBeijing(header.SndDt ?? "");
    const fresh = sent_at !== null && isFresh(sent_at, this.clock);
    const notification = fresh ? this.notification(header.MsgTp, flatten(group(tree, "MsgBody"))) : null;
    return {
      unverified: notification,
      ack,
      verify: () => {
        if (!sm2Verify(signed.xml, signed.signature, network.public_key_hex)) return reject("invalid_signature", "signature does not verify");
        if (!fresh) return reject("stale", "SndDt outside the accepted window");
        if (!header.MsgId || !this.replay.accept(`netsunion:${header.MsgId}`)) return reject("replayed", "message already received");
        if (!notification) return reject("malformed", `not a notification this adapter understands (${header.MsgTp ?? "?"})`);
        return { ok: true, notification, ack };
      },
    };
  }

  // --- internals -----------------------------------------------------------------------------

  private notification(type: string | undefined, body: Record<string, string>): ChannelNotification | null {
    if (!body.NtfctnId) return null;
    if (type === NOTIFY_UNBIND && body.SgnNo) {
      return { kind: "agreement_unbound", notification_id: body.NtfctnId, agreement_no: body.SgnNo, card_last4: body.SgnAcctIdLast4 ?? "", unbound_at: parseBeijing(body.RscsnDt ?? "")?.toISOString() ?? "" };
    }
    const kind = CATEGORY_KINDS[body.OrgnlTrxCtgy as keyof typeof CATEGORY_KINDS];
    if (type !== NOTIFY_RESULT || !body.TrxId || (kind !== "pay" && kind !== "refund")) return null;
    const amount = parseNetsUnionAmount(body.TrxAmt);
    return { kind: "txn_result", notification_id: body.NtfctnId, txn_kind: kind, txn_id: body.TrxId, outcome: this.money({ kind: "biz", biz: body }, amount) };
  }

  private signed(answer: Answer): SignedResult {
    return this.outcome(answer, (biz) => (biz.SgnNo ? { agreement_no: biz.SgnNo, verified: decodeVerified(biz.VrfyBitMap ?? "") } : null));
  }

  /** A money answer must echo the amount asked for; anything else is not trusted. */
  private money(answer: Answer, amount_fen: bigint | null): MoneyResult {
    return this.outcome(answer, (biz) => {
      const amount = parseNetsUnionAmount(biz.TrxAmt);
      if (!biz.NetTrxId || amount === null || amount !== amount_fen || !biz.SttlmDt) return null;
      return { network_txn_id: biz.NetTrxId, amount_fen: amount, fee_fen: parseNetsUnionAmount(biz.FeeAmt), settlement_date: biz.SttlmDt };
    });
  }

  /** The status mapping: 00 success, 01 failure with a known or unknown code, 02 and anything else pending. */
  private outcome<T extends object>(answer: Answer, fields: (biz: Record<string, string>) => T | null): Outcome<T> {
    if (answer.kind === "none") return answer.outcome;
    const { biz } = answer;
    const code = biz.BizRtnCd ?? "";
    switch (biz.BizStsCd) {
      case "00": {
        const value = fields(biz);
        return value ? { status: "succeeded", ...value } : pending("bad_response", "success answer lacks or contradicts required fields", code);
      }
      case "01":
        return failed(NETSUNION_BIZ_REASONS[code] ?? "declined_other", code, biz.BizRtnDesc ?? "");
      case "02":
        return pending("processing", biz.BizRtnDesc ?? "processing", code);
      default:
        return pending("unclassified", `BizStsCd ${biz.BizStsCd ?? "missing"}`, code || null);
    }
  }

  private encryptCard(card: CardElements, key: Buffer): XmlTree {
    const seal = (value: string) => sm4CbcEncrypt(key, Buffer.from(value, "utf8")).toString("base64");
    const info: XmlTree = { SgnAcctId: seal(card.card_number), SgnAcctNm: seal(card.holder_name), IDTp: "01", IDNo: seal(card.id_number), MobNo: seal(card.phone) };
    if (card.cvn2) info.CVN2 = seal(card.cvn2);
    if (card.expiry) info.ExpDt = seal(card.expiry);
    return info;
  }

  /** Builds, signs and sends one request; verifies the answer and binds it to the request. */
  private async call(message_type: string, fields: Record<string, string>, card: CardElements | null, bytes_max: number = CHANNEL_LIMITS.response_bytes_max): Promise<Answer> {
    // A card is encrypted to the network's key: the key of this very moment.
    const network = this.config.network_keys.netsunion(card ? "fresh" : "cached");
    if (!network) return { kind: "none", outcome: failed("message_rejected", "", "NetsUnion public key not available: nothing was sent") };
    const msg_id = randomHex(16);
    const header: XmlTree = {
      SndDt: beijingIsoLocal(this.clock.now()), MsgTp: message_type, IssrId: this.config.institution_id, Drctn: "11",
      SignSN: this.config.own_key.key_id, MsgId: msg_id,
    };
    const body: XmlTree = { InstgId: this.config.institution_id, ...fields };
    if (card) {
      const key = newSm4Key();
      header.NcrptnSN = network.key_id;
      header.DgtlEnvlp = sm2Encrypt(key, network.public_key_hex).toString("base64");
      body.SgnInf = this.encryptCard(card, key);
    }
    const xml = buildDocument(NAMESPACE, { MsgHeader: header, MsgBody: body });
    const raw = `${xml}{S:${sm2Sign(xml, this.config.own_key.private_key_hex).toString("base64")}}`;
    // Only calls that change nothing at the network may go out twice (src/kernel/http-client.ts).
    const resend = message_type === MESSAGE_TYPES.query || message_type === MESSAGE_TYPES.statement ? "once_on_stale_socket" : "never";
    const posted = await postText(this.transport, this.config.endpoint_url, "application/xml; charset=utf-8", raw, resend, bytes_max);
    if (posted.kind === "timeout") return { kind: "none", outcome: pending("timeout", "no answer in time") };
    if (posted.kind === "transport_error") return { kind: "none", outcome: pending("transport_error", posted.message) };
    return this.readAnswer(posted.body, msg_id, network);
  }

  private readAnswer(raw: string, msg_id: string, network: { key_id: string; public_key_hex: string }): Answer {
    const bad = (message: string): Answer => ({ kind: "none", outcome: pending("bad_response", message) });
    const signed = splitSignature(raw);
    if (!signed) return bad("answer is not signed");
    let tree: XmlTree;
    try {
      tree = parseDocument(signed.xml);
    } catch (error) {
      return bad(`answer does not parse: ${(error as Error).message}`);
    }
    const header = flatten(group(tree, "MsgHeader"));
    // Signed with another key than the one known: the network rotated it; look at its file now.
    const signer = header.SignSN === network.key_id ? network : this.config.network_keys.netsunion({ key_id: header.SignSN ?? "" });
    if (!signer || header.SignSN !== signer.key_id || !sm2Verify(signed.xml, signed.signature, signer.public_key_hex)) return bad("answer signature does not verify");
    if (header.RltdMsgId !== msg_id || header.Drctn !== "21") return bad("answer is not for this request");
    const body = group(tree, "MsgBody");
    const sys = flatten(group(body, "SysRtnInf"));
    if (sys.SysRtnCd !== NETSUNION_SYS_OK) {
      const code = sys.SysRtnCd ?? "";
      const meaning = NETSUNION_SYSTEM_CODES[code];
      const message = `network refused the message: ${sys.SysRtnDesc ?? code}`;
      return { kind: "none", outcome: meaning === "rejected" ? failed("message_rejected", code, message) : pending("unclassified", message, code || null) };
    }
    return { kind: "biz", biz: flatten(group(body, "BizInf")) };
  }
}
