import type { Clock } from "../../kernel/clock.ts";
import { postText, type Transport } from "../http.ts";
import type { NetworkKeys, RsaOwn, UnionPayPublic } from "../keys.ts";
import { parseFen } from "../statement.ts";
import { downloadStatement, fileRef } from "../statement-download.ts";
import { ReplayGuard, assertAmount, assertTxnId, beijingCompact, decodeVerified, failed, isFresh, parseBeijing, pending, randomHex } from "../support.ts";
import type {
  AgreementChannelId, ChannelAdapter, ChannelCapabilities, ChannelNotification, MoneyResult, NotificationParse, Outcome, PayRequest,
  QueryRequest, QueryResult, RefundRequest, ResendOtpRequest, ResendOtpResult, SignApplyRequest, SignApplyResult, SignConfirmRequest,
  SignSyncRequest, SignedResult, StatementRequest, StatementResult, UnbindRequest, UnbindResult,
} from "../types.ts";
import { QUERIED_KINDS, TXN_TYPES, UNIONPAY_NOT_FOUND, UNIONPAY_PROCESSING, UNIONPAY_REASONS, UNIONPAY_REJECTED, UNIONPAY_REPLAYED, UNIONPAY_SUCCESS } from "./codes.ts";
import { encryptCard, isoDate, readForm, signForm, smsCustomerInfo, verifyForm } from "./wire.ts";

const PATHS = { back: "/gateway/api/backTransReq.do", query: "/gateway/api/queryTrans.do", file: "/gateway/api/fileTransReq.do" } as const;

/** One UnionPay product: new no-card and legacy quick pay share the wire, not the registry. */
export interface UnionPayProduct {
  channel_id: Extract<AgreementChannelId, "unionpay_nocard" | "unionpay_quickpay">;
  biz_type: string;
  capabilities: ChannelCapabilities;
}

export interface UnionPayConfig {
  /** Base URL of UnionPay's gateway (the sandbox's is `<sandbox>/unionpay`). */
  endpoint_url: string;
  /** paycore's merchant id at UnionPay (`merId`). */
  institution_id: string;
  own_key: RsaOwn;
  network_keys: NetworkKeys;
}

type Answer = { kind: "fields"; fields: Record<string, string> } | { kind: "none"; outcome: Exclude<Outcome<never>, { status: "succeeded" }> };

/** UnionPay agreement payments: key=value text, RSA-SHA256 signatures with certId, RSA-OAEP fields. */
export class UnionPayAdapter implements ChannelAdapter {
  readonly channel_id: UnionPayProduct["channel_id"];
  readonly capabilities: ChannelCapabilities;
  private readonly replay: ReplayGuard;

  constructor(
    private readonly product: UnionPayProduct,
    private readonly config: UnionPayConfig,
    private readonly transport: Transport,
    private readonly clock: Clock,
  ) {
    this.channel_id = product.channel_id;
    this.capabilities = product.capabilities;
    this.replay = new ReplayGuard(clock);
  }

  async signApply(request: SignApplyRequest): Promise<SignApplyResult> {
    assertTxnId(request.txn_id, "txn_id");
    const answer = await this.call("sign_apply", request.txn_id, (network) => ({ ...encryptCard(request.card, network.certificate_pem), encryptCertId: network.cert_id }));
    return this.outcome(answer, (f) => ({ phone_masked: f.phoneNoMasked ?? "" }));
  }

  async resendOtp(request: ResendOtpRequest): Promise<ResendOtpResult> {
    assertTxnId(request.txn_id, "txn_id");
    assertTxnId(request.sign_txn_id, "sign_txn_id");
    return this.outcome(await this.call("sign_resend", request.txn_id, () => ({ origOrderId: request.sign_txn_id })), () => ({}));
  }

  async signConfirm(request: SignConfirmRequest): Promise<SignedResult> {
    assertTxnId(request.sign_txn_id, "sign_txn_id");
    return this.signed(await this.call("sign_confirm", request.sign_txn_id, () => ({ customerInfo: smsCustomerInfo(request.otp) })));
  }

  async signSync(request: SignSyncRequest): Promise<SignedResult> {
    assertTxnId(request.txn_id, "txn_id");
    return this.signed(await this.call("sign_sync", request.txn_id, (network) => ({ ...encryptCard(request.card, network.certificate_pem), encryptCertId: network.cert_id })));
  }

  async unbind(request: UnbindRequest): Promise<UnbindResult> {
    assertTxnId(request.txn_id, "txn_id");
    return this.outcome(await this.call("unbind", request.txn_id, () => ({ token: request.agreement_no })), () => ({ agreement_no: request.agreement_no }));
  }

  async pay(request: PayRequest): Promise<MoneyResult> {
    assertTxnId(request.txn_id, "txn_id");
    assertTxnId(request.order_id, "order_id");
    assertAmount(request.amount_fen);
    const answer = await this.call("pay", request.txn_id, () => ({ token: request.agreement_no, txnAmt: request.amount_fen.toString(), currencyCode: "156", reqReserved: request.order_id }));
    return this.money(answer, request.amount_fen);
  }

  async refund(request: RefundRequest): Promise<MoneyResult> {
    assertTxnId(request.txn_id, "txn_id");
    assertTxnId(request.order_id, "order_id");
    assertAmount(request.amount_fen);
    const answer = await this.call("refund", request.txn_id, () => ({
      origQryId: request.original_network_txn_id, origOrderId: request.original_txn_id, txnAmt: request.amount_fen.toString(), currencyCode: "156", reqReserved: request.order_id,
    }));
    return this.money(answer, request.amount_fen);
  }

  async query(request: QueryRequest): Promise<QueryResult> {
    assertTxnId(request.txn_id, "txn_id");
    const answer = await this.call("query", `Q${randomHex(12)}`, () => ({ origOrderId: request.txn_id }));
    if (answer.kind === "none") return answer.outcome.status === "failed" ? pending("unclassified", `query refused: ${answer.outcome.message}`, answer.outcome.network_code) : answer.outcome;
    const f = answer.fields;
    if (f.respCode === UNIONPAY_NOT_FOUND) return { status: "not_found", network_code: f.respCode };
    if (f.respCode !== UNIONPAY_SUCCESS) return pending("unclassified", `query answered ${f.respCode ?? "?"}`, f.respCode ?? null);
    const kind = QUERIED_KINDS[`${f.origTxnType}/${f.origTxnSubType}` as keyof typeof QUERIED_KINDS];
    if (!kind) return pending("unclassified", `unknown original type ${f.origTxnType ?? "?"}/${f.origTxnSubType ?? "?"}`);
    const original = { ...f, respCode: f.origRespCode ?? "", respMsg: f.origRespMsg ?? "" };
    return this.outcome({ kind: "fields", fields: original }, (o) => ({
      kind, network_txn_id: o.queryId ?? null, agreement_no: o.token || null,
      amount_fen: o.txnAmt ? parseFen(o.txnAmt) : null, fee_fen: o.txnFee ? parseFen(o.txnFee) : null, settlement_date: isoDate(o.settleDate),
    }));
  }

  async fetchStatement(request: StatementRequest): Promise<StatementResult> {
    const answer = await this.call("statement", `S${randomHex(12)}`, () => ({ settleDate: request.settlement_date.replace(/-/g, "") }));
    const result = this.outcome(answer, (f) => fileRef({ name: f.fileName, bytes: f.fileSize, sha256: f.fileDigest }));
    if (result.status !== "succeeded") return result;
    // The file sits next to the message endpoint, named by the signed answer.
    const file = await downloadStatement(this.channel_id, new URL(`files/${result.name}`, `${this.config.endpoint_url}${PATHS.file}`).toString(), result);
    return "status" in file ? file : { status: "succeeded", settlement_date: request.settlement_date, file };
  }

  parseNotification(input: { body: string }): NotificationParse {
    const reject = (error: Extract<NotificationParse, { ok: false }>["error"], message: string): NotificationParse => ({ ok: false, error, message, ack: { status: 400, content_type: "text/plain", body: `FAIL ${error}` } });
    const fields = readForm(input.body);
    if (!fields) return reject("malformed", "not key=value pairs");
    if (!fields.signature) return reject("unsigned", "no signature");
    const network = this.config.network_keys.unionpay({ key_id: fields.certId ?? "" });
    if (!network || fields.certId !== network.cert_id) return reject("unknown_key", `unknown certificate ${fields.certId ?? "?"}`);
    if (!verifyForm(fields, network.certificate_pem)) return reject("invalid_signature", "signature does not verify");
    const sent_at = parseBeijing(fields.sendTime ?? "");
    if (!sent_at || !isFresh(sent_at, this.clock)) return reject("stale", "sendTime outside the accepted window");
    if (!fields.nonce || !this.replay.accept(`unionpay:${fields.nonce}`)) return reject("replayed", "message already received");
    if (fields.bizType !== this.product.biz_type) return reject("malformed", `notification is for product ${fields.bizType ?? "?"}`);
    const notification = this.notification(fields);
    if (!notification) return reject("malformed", "not a notification this adapter understands");
    return { ok: true, notification, ack: { status: 200, content_type: "text/plain", body: "ok" } };
  }

  // --- internals -----------------------------------------------------------------------------

  private notification(f: Record<string, string>): ChannelNotification | null {
    if (!f.notifyId) return null;
    if (f.notifyType === "unbind" && f.token) {
      return { kind: "agreement_unbound", notification_id: f.notifyId, agreement_no: f.token, card_last4: f.accNoLast4 ?? "", unbound_at: parseBeijing(f.unbindTime ?? "")?.toISOString() ?? "" };
    }
    const kind = f.txnType === "01" ? "pay" : f.txnType === "04" ? "refund" : null;
    if (f.notifyType !== "txn_result" || !kind || !f.orderId) return null;
    return { kind: "txn_result", notification_id: f.notifyId, txn_kind: kind, txn_id: f.orderId, outcome: this.money({ kind: "fields", fields: f }, f.txnAmt ? parseFen(f.txnAmt) : null) };
  }

  private signed(answer: Answer): SignedResult {
    return this.outcome(answer, (f) => (f.token ? { agreement_no: f.token, verified: decodeVerified(f.verifyBits ?? "") } : null));
  }

  private money(answer: Answer, amount_fen: bigint | null): MoneyResult {
    return this.outcome(answer, (f) => {
      const amount = f.txnAmt ? parseFen(f.txnAmt) : null;
      const settlement_date = isoDate(f.settleDate);
      if (!f.queryId || amount === null || amount !== amount_fen || !settlement_date) return null;
      return { network_txn_id: f.queryId, amount_fen: amount, fee_fen: f.txnFee ? parseFen(f.txnFee) : null, settlement_date };
    });
  }

  /** The status mapping: 00 success; known decline codes fail; 03/04/05 and anything unknown stay pending. */
  private outcome<T extends object>(answer: Answer, fields: (f: Record<string, string>) => T | null): Outcome<T> {
    if (answer.kind === "none") return answer.outcome;
    const f = answer.fields;
    const code = f.respCode ?? "";
    if (code === UNIONPAY_SUCCESS) {
      const value = fields(f);
      return value ? { status: "succeeded", ...value } : pending("bad_response", "success answer lacks or contradicts required fields", code);
    }
    if (UNIONPAY_PROCESSING.has(code)) return pending("processing", f.respMsg ?? "processing", code);
    const reason = UNIONPAY_REASONS[code];
    return reason ? failed(reason, code, f.respMsg ?? "") : pending("unclassified", `unknown respCode ${code || "missing"}`, code || null);
  }

  private async call(kind: keyof typeof TXN_TYPES, order_id: string, extra: (network: UnionPayPublic) => Record<string, string>): Promise<Answer> {
    // Sign requests encrypt the card to the network's certificate: the one of this very moment.
    const network = this.config.network_keys.unionpay(kind === "sign_apply" || kind === "sign_sync" ? "fresh" : "cached");
    if (!network) return { kind: "none", outcome: failed("message_rejected", "", "UnionPay certificate not available: nothing was sent") };
    const [txn_type, txn_sub_type] = TXN_TYPES[kind];
    const nonce = randomHex(16);
    const fields: Record<string, string> = {
      version: "5.1.0", encoding: "UTF-8", signMethod: "01", certId: this.config.own_key.cert_id, txnType: txn_type, txnSubType: txn_sub_type,
      bizType: this.product.biz_type, accessType: "0", channelType: "07", merId: this.config.institution_id, orderId: order_id,
      txnTime: beijingCompact(this.clock.now()), nonce, ...extra(network),
    };
    const path = kind === "query" ? PATHS.query : kind === "statement" ? PATHS.file : PATHS.back;
    // Only calls that change nothing at the network may go out twice (src/kernel/http-client.ts).
    const resend = kind === "query" || kind === "statement" ? "once_on_stale_socket" : "never";
    const posted = await postText(this.transport, `${this.config.endpoint_url}${path}`, "application/x-www-form-urlencoded; charset=utf-8", signForm(fields, this.config.own_key.private_key_pem), resend);
    if (posted.kind === "timeout") return { kind: "none", outcome: pending("timeout", "no answer in time") };
    if (posted.kind === "transport_error") return { kind: "none", outcome: pending("transport_error", posted.message) };
    return this.readAnswer(posted.body, order_id, nonce, network);
  }

  private readAnswer(raw: string, order_id: string, nonce: string, network: UnionPayPublic): Answer {
    const bad = (message: string): Answer => ({ kind: "none", outcome: pending("bad_response", message) });
    const f = readForm(raw);
    if (!f || !f.signature) return bad("answer is not signed key=value text");
    // Signed with another certificate than the one known: the network rotated it; look at its file now.
    const signer = f.certId === network.cert_id ? network : this.config.network_keys.unionpay({ key_id: f.certId ?? "" });
    if (!signer || f.certId !== signer.cert_id || !verifyForm(f, signer.certificate_pem)) return bad("answer signature does not verify");
    if (f.orderId !== order_id || f.nonce !== nonce) return bad("answer is not for this request");
    const code = f.respCode ?? "";
    if (UNIONPAY_REJECTED.has(code)) return { kind: "none", outcome: failed("message_rejected", code, `network refused the message: ${f.respMsg ?? code}`) };
    if (code === UNIONPAY_REPLAYED) return { kind: "none", outcome: pending("unclassified", "network says the message was a replay", code) };
    return { kind: "fields", fields: f };
  }
}
