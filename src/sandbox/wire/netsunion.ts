import { z } from "zod";
import { AMOUNT_YUAN_DIGITS_MAX, formatYuan } from "../../kernel/money.ts";
import { maskPhone } from "../../kernel/mask.ts";
import { sm2Decrypt, sm2Verify } from "../../kernel/crypto/sm2.ts";
import { sm4CbcDecrypt } from "../../kernel/crypto/sm4.ts";
import { beijingCompact, beijingIsoLocal, parseBeijing } from "../calendar.ts";
import type { SandboxContext, WireAnswer } from "../context.ts";
import type { CardElements, ForcedDecline, TxnRecord, TxnValue } from "../engine.ts";
import type { FaultPlan } from "../faults.ts";
import { CapacityError } from "../limits.ts";
import type { EngineResult, Operation } from "../model.ts";
import type { NotifyEvent } from "../notifier.ts";
import { randomHexText } from "../../kernel/random.ts";
import { isFresh } from "../replay.ts";
import { signAsNetwork } from "../signing.ts";
import { spoilSignature, statementFile } from "../statements.ts";
import { NETSUNION_BIZ_CODES, NETSUNION_SYSTEM } from "./codes.ts";
import { readXml, textOf, groupOf, writeXml, type XmlElement } from "./xml.ts";

/**
 * NetsUnion-style wire: XML documents `<root><MsgHeader/><MsgBody/></root>` followed by
 * `{S:<base64 SM2 signature over the XML bytes>}`. Card number, name, ID number, phone, CVN2 and
 * expiry travel SM4-encrypted under a one-time key carried in `DgtlEnvlp`, SM2-encrypted to the
 * network's key (`NcrptnSN`). Message types and codes are the sandbox's conventions.
 */
export const NETSUNION_NAMESPACE = "namespace_string";
export const NETSUNION_NETWORK_ID = "Z0000000000000";

const MESSAGE_KINDS = {
  "epcc.101.001.01": "sign_apply",
  "epcc.103.001.01": "sign_confirm",
  "epcc.105.001.01": "sign_resend",
  "epcc.107.001.01": "unbind",
  "epcc.109.001.01": "sign_sync",
  "epcc.201.001.01": "pay",
  "epcc.203.001.01": "refund",
  "epcc.301.001.01": "query",
  "epcc.401.001.01": "statement",
} as const;
type MessageKind = (typeof MESSAGE_KINDS)[keyof typeof MESSAGE_KINDS];

const OPERATION_OF: Record<MessageKind, Operation> = {
  sign_apply: "sign", sign_resend: "sign", sign_confirm: "confirm", sign_sync: "sync", unbind: "unbind",
  pay: "pay", refund: "refund", query: "query", statement: "statement",
};

const CATEGORY_OF_KIND: Record<TxnRecord["kind"], string> = {
  sign_apply: "0201", sign_resend: "0205", sign_sync: "0204", unbind: "0203", pay: "0110", refund: "0121",
};

const id = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "1-32 letters, digits, _ or -");
const amount = z.string().regex(new RegExp(`^CNY\\d{1,${AMOUNT_YUAN_DIGITS_MAX}}\\.\\d{2}$`), "CNY amount with two decimals");
const HeaderSchema = z.object({
  SndDt: z.string(), MsgTp: z.string(), IssrId: z.string().min(1).max(32), Drctn: z.literal("11"),
  SignSN: z.string().min(1).max(40), MsgId: z.string().regex(/^[A-Za-z0-9]{8,64}$/),
  NcrptnSN: z.string().max(40).optional(), DgtlEnvlp: z.string().max(1024).optional(),
});
type Header = z.infer<typeof HeaderSchema>;
const SignInfoSchema = z.object({
  SgnAcctId: z.string(), SgnAcctNm: z.string(), IDTp: z.literal("01"), IDNo: z.string(), MobNo: z.string(),
  CVN2: z.string().optional(), ExpDt: z.string().optional(),
});
const BODY_SCHEMAS = {
  sign_apply: z.object({ InstgId: z.string(), TrxId: id, SgnInf: SignInfoSchema }),
  sign_sync: z.object({ InstgId: z.string(), TrxId: id, SgnInf: SignInfoSchema }),
  sign_confirm: z.object({ InstgId: z.string(), TrxId: id, AuthMsg: z.string().regex(/^\d{4,8}$/) }),
  sign_resend: z.object({ InstgId: z.string(), TrxId: id, OrgnlTrxId: id }),
  unbind: z.object({ InstgId: z.string(), TrxId: id, SgnNo: z.string().min(1).max(64) }),
  pay: z.object({ InstgId: z.string(), TrxId: id, SgnNo: z.string().min(1).max(64), TrxAmt: amount, OrdrId: id, OrdrDesc: z.string().max(128).optional() }),
  refund: z.object({ InstgId: z.string(), TrxId: id, OrgnlTrxId: id, TrxAmt: amount, OrdrId: id }),
  query: z.object({ InstgId: z.string(), TrxId: id, OrgnlTrxId: id }),
  statement: z.object({ InstgId: z.string(), TrxId: id, SttlmDt: z.string().regex(/^\d{4}-\d{2}-\d{2}$/) }),
} as const;

interface BizOutcome {
  status: "00" | "01" | "02";
  code: string;
  desc: string;
  fields: XmlElement;
}

type Checked =
  | { ok: false; code: string; desc: string; header: Header | null }
  | { ok: true; header: Header; kind: MessageKind; body: XmlElement; envelope_key: Buffer | null };

export function parseAmount(text: string): bigint {
  const [yuan, cents] = text.slice(3).split(".");
  return BigInt(yuan!) * 100n + BigInt(cents!);
}

export function formatAmount(fen: bigint): string {
  return `CNY${formatYuan(fen)}`;
}

function splitSigned(raw: string): { xml: string; signature: Buffer } | null {
  const match = /\{S:([A-Za-z0-9+/=]{16,400})\}\s*$/.exec(raw);
  return match ? { xml: raw.slice(0, match.index), signature: Buffer.from(match[1]!, "base64") } : null;
}

function checkRequest(ctx: SandboxContext, raw: string): Checked {
  // Read the header even from an unsigned message, so the refusal can name the message it refuses.
  const signed = splitSigned(raw);
  let doc: ReturnType<typeof readXml>;
  try {
    doc = readXml(signed ? signed.xml : raw);
  } catch (error) {
    return { ok: false, code: signed ? NETSUNION_SYSTEM.malformed : NETSUNION_SYSTEM.signature_invalid, desc: `malformed XML: ${(error as Error).message}`, header: null };
  }
  const parsed = HeaderSchema.safeParse(groupOf(doc.content, "MsgHeader"));
  if (doc.root !== "root" || !parsed.success) return { ok: false, code: NETSUNION_SYSTEM.malformed, desc: "missing or bad MsgHeader", header: null };
  const header = parsed.data;
  if (!signed) return { ok: false, code: NETSUNION_SYSTEM.signature_invalid, desc: "message is not signed", header };
  const peer = ctx.peers.netsunion(header.SignSN);
  if (!peer || peer.key_id !== header.SignSN) return { ok: false, code: NETSUNION_SYSTEM.unknown_certificate, desc: `unknown signing key ${header.SignSN}`, header };
  if (!sm2Verify(signed.xml, signed.signature, peer.public_key_hex)) return { ok: false, code: NETSUNION_SYSTEM.signature_invalid, desc: "signature does not verify", header };
  const sent_at = parseBeijing(header.SndDt);
  if (!sent_at || !isFresh(sent_at, ctx.clock.now())) return { ok: false, code: NETSUNION_SYSTEM.stale, desc: "SndDt outside the accepted window", header };
  if (!ctx.seen.remember(`netsunion:${header.IssrId}:${header.MsgId}`, ctx.clock.now().getTime())) {
    return { ok: false, code: NETSUNION_SYSTEM.replayed, desc: "message already received", header };
  }
  const kind = (MESSAGE_KINDS as Record<string, MessageKind | undefined>)[header.MsgTp];
  const body = groupOf(doc.content, "MsgBody");
  if (!kind || !body) return { ok: false, code: NETSUNION_SYSTEM.malformed, desc: `unknown message type ${header.MsgTp}`, header };
  if (!header.DgtlEnvlp) return { ok: true, header, kind, body, envelope_key: null };
  if (header.NcrptnSN !== ctx.keys.netsunion.key_id) return { ok: false, code: NETSUNION_SYSTEM.unknown_certificate, desc: "envelope for an unknown key", header };
  try {
    const envelope_key = sm2Decrypt(Buffer.from(header.DgtlEnvlp, "base64"), ctx.keys.netsunion.private_key_hex);
    if (envelope_key.length !== 16) throw new Error("envelope key is not 16 bytes");
    return { ok: true, header, kind, body, envelope_key };
  } catch {
    return { ok: false, code: NETSUNION_SYSTEM.decryption_failed, desc: "digital envelope does not open", header };
  }
}

export async function handleNetsUnion(ctx: SandboxContext, raw: string): Promise<WireAnswer> {
  let checked: Checked;
  try {
    checked = checkRequest(ctx, raw);
  } catch (error) {
    if (error instanceof CapacityError) return respond(ctx, null, { code: NETSUNION_SYSTEM.busy, desc: "sandbox capacity reached" }, null);
    throw error;
  }
  if (!checked.ok) {
    ctx.log.info({ code: checked.code, reason: checked.desc }, "netsunion message refused");
    return respond(ctx, checked.header, { code: checked.code, desc: checked.desc }, null);
  }
  const plan = ctx.faults.plan("netsunion", OPERATION_OF[checked.kind]);
  if (plan.latency_ms > 0) await new Promise((resolve) => setTimeout(resolve, plan.latency_ms));
  let outcome: BizOutcome;
  try {
    outcome = await dispatch(ctx, checked.kind, checked.body, checked.envelope_key, plan);
  } catch (error) {
    if (error instanceof BadBody) return respond(ctx, checked.header, { code: NETSUNION_SYSTEM.malformed, desc: error.message }, null);
    if (error instanceof CapacityError) return respond(ctx, checked.header, { code: NETSUNION_SYSTEM.busy, desc: error.message }, null);
    throw error;
  }
  if (plan.timeout) return { kind: "no_answer" };
  if (plan.unknown && checked.kind !== "statement") outcome = { status: "02", code: "PB000002", desc: "处理中", fields: { TrxId: textOf(checked.body, "TrxId") ?? "" } };
  const answer = respond(ctx, checked.header, { code: NETSUNION_SYSTEM.ok, desc: "成功" }, outcome);
  const spoil = checked.kind === "statement" && ctx.statement_faults.consume("netsunion", textOf(checked.body, "SttlmDt") ?? "", "bad_signature");
  return spoil ? spoilSignature(answer, "<BizRtnDesc>") : answer;
}

class BadBody extends Error {}

function parseBody<K extends MessageKind>(kind: K, body: XmlElement): z.infer<(typeof BODY_SCHEMAS)[K]> {
  const parsed = BODY_SCHEMAS[kind].safeParse(body);
  if (!parsed.success) throw new BadBody(`bad MsgBody: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data as z.infer<(typeof BODY_SCHEMAS)[K]>;
}

function decryptElements(info: z.infer<typeof SignInfoSchema>, key: Buffer | null): CardElements {
  if (!key) throw new BadBody("sensitive fields need a digital envelope");
  const open = (value: string | undefined): string | null => {
    if (value === undefined) return null;
    try {
      return sm4CbcDecrypt(key, Buffer.from(value, "base64")).toString("utf8");
    } catch {
      throw new BadBody("an encrypted field does not decrypt");
    }
  };
  return {
    card_number: open(info.SgnAcctId) ?? "", holder_name: open(info.SgnAcctNm) ?? "", id_number: open(info.IDNo) ?? "",
    phone: open(info.MobNo) ?? "", cvn2: open(info.CVN2), expiry: open(info.ExpDt),
  };
}

/** Synchronous but for a statement and a retired original brought back from the archive (src/sandbox/archive.ts). */
async function dispatch(ctx: SandboxContext, kind: MessageKind, body: XmlElement, key: Buffer | null, plan: FaultPlan): Promise<BizOutcome> {
  const engine = ctx.engine;
  const forced: ForcedDecline = plan.decline;
  switch (kind) {
    case "sign_apply": {
      const b = parseBody(kind, body);
      const result = engine.signApply("netsunion", b.TrxId, b.InstgId, decryptElements(b.SgnInf, key), forced);
      return toBiz(result, (v) => ({ TrxId: b.TrxId, MobNoMsk: maskPhone(engine.cards.get(v.card_number ?? "")?.phone ?? "") }));
    }
    case "sign_sync": {
      const b = parseBody(kind, body);
      const result = engine.signSync("netsunion", b.TrxId, b.InstgId, decryptElements(b.SgnInf, key), forced);
      return toBiz(result, (v) => ({ TrxId: b.TrxId, SgnNo: v.agreement_no ?? "", VrfyBitMap: v.verified ?? "" }));
    }
    case "sign_confirm": {
      const b = parseBody(kind, body);
      return toBiz(engine.signConfirm("netsunion", b.TrxId, b.AuthMsg, forced), (v) => ({ TrxId: b.TrxId, SgnNo: v.agreement_no ?? "", VrfyBitMap: v.verified ?? "" }));
    }
    case "sign_resend": {
      const b = parseBody(kind, body);
      return toBiz(engine.signResend("netsunion", b.TrxId, b.OrgnlTrxId, forced), () => ({ TrxId: b.TrxId }));
    }
    case "unbind": {
      const b = parseBody(kind, body);
      return toBiz(engine.unbind("netsunion", b.TrxId, b.InstgId, b.SgnNo, forced), () => ({ TrxId: b.TrxId, SgnNo: b.SgnNo }));
    }
    case "pay":
      return moneyMessage(ctx, kind, body, plan);
    case "refund":
      await engine.recall("netsunion", { txn_id: parseBody(kind, body).OrgnlTrxId });
      return moneyMessage(ctx, kind, body, plan);
    case "query": {
      const b = parseBody(kind, body);
      await engine.recall("netsunion", { txn_id: b.OrgnlTrxId });
      return queryMessage(ctx, b, forced);
    }
    case "statement": {
      const b = parseBody(kind, body);
      if (forced) return toBiz({ outcome: "declined", reason: forced.reason, raw_code: forced.raw_code }, () => ({}));
      if (ctx.statement_faults.consume("netsunion", b.SttlmDt, "late")) return { status: "02", code: "PB000002", desc: "对账文件未生成", fields: { TrxId: b.TrxId } };
      const file = await statementFile(engine, "netsunion", b.SttlmDt, b.InstgId, ctx.statement_faults);
      const published = ctx.statement_files.publish("netsunion", b.SttlmDt, file);
      return { status: "00", code: "PB000000", desc: "成功", fields: { TrxId: b.TrxId, SttlmDt: b.SttlmDt, FileNm: published.name, FileSz: String(published.bytes), FileDgst: published.sha256 } };
    }
  }
}

function moneyMessage(ctx: SandboxContext, kind: "pay" | "refund", body: XmlElement, plan: FaultPlan): BizOutcome {
  const before = ctx.engine.created_count;
  let result: EngineResult<TxnValue>;
  let txn_id: string;
  if (kind === "pay") {
    const b = parseBody("pay", body);
    txn_id = b.TrxId;
    result = ctx.engine.pay({ network: "netsunion", txn_id, pi_id: b.InstgId, agreement_no: b.SgnNo, amount_fen: parseAmount(b.TrxAmt), order_id: b.OrdrId }, plan.decline);
  } else {
    const b = parseBody("refund", body);
    txn_id = b.TrxId;
    result = ctx.engine.refund({ network: "netsunion", txn_id, pi_id: b.InstgId, original_txn_id: b.OrgnlTrxId, original_network_txn_id: null, amount_fen: parseAmount(b.TrxAmt), order_id: b.OrdrId }, plan.decline);
  }
  const record = ctx.engine.query("netsunion", txn_id);
  if (record && ctx.engine.created_count > before) {
    ctx.notifier.send({ type: "txn_result", notification_id: ctx.notifier.nextId("netsunion"), network: "netsunion", record }, plan.duplicate_notify ? 2 : 1);
  }
  return toBiz(result, (v) => moneyFields(txn_id, v));
}

function moneyFields(txn_id: string, v: TxnValue): XmlElement {
  return {
    TrxId: txn_id, NetTrxId: v.network_txn_id, SgnNo: v.agreement_no ?? "", TrxAmt: formatAmount(v.amount_fen ?? 0n),
    FeeAmt: formatAmount(v.fee_fen ?? 0n), SttlmDt: v.settlement_date ?? "",
  };
}

function queryMessage(ctx: SandboxContext, b: z.infer<(typeof BODY_SCHEMAS)["query"]>, forced: ForcedDecline): BizOutcome {
  if (forced) return toBiz({ outcome: "declined", reason: forced.reason, raw_code: forced.raw_code }, () => ({}));
  const record = ctx.engine.query("netsunion", b.OrgnlTrxId);
  if (!record) return toBiz({ outcome: "declined", reason: "original_not_found", raw_code: null }, () => ({}));
  const original = originalStatus(ctx, record);
  const fields: XmlElement = { TrxId: b.TrxId, OrgnlTrxId: b.OrgnlTrxId, OrgnlTrxCtgy: CATEGORY_OF_KIND[record.kind], OrgnlBizStsCd: original.status, OrgnlBizRtnCd: original.code, ...original.fields };
  return { status: "00", code: "PB000000", desc: "成功", fields };
}

/** A sign transaction is reported by its signing status: signed, refused, or still awaiting the OTP. */
function originalStatus(ctx: SandboxContext, record: TxnRecord): BizOutcome {
  const biz = toBiz(record.result, (v) => (record.kind === "pay" || record.kind === "refund" ? moneyFields(record.txn_id, v) : { SgnNo: v.agreement_no ?? "" }));
  if (record.kind !== "sign_apply" || biz.status !== "00") return biz;
  const request = ctx.engine.signRequest("netsunion", record.txn_id);
  if (request?.state === "signed") return { status: "00", code: "PB000000", desc: "已签约", fields: { SgnNo: request.agreement_no ?? "", VrfyBitMap: request.verified } };
  if (request?.state === "locked") return { status: "01", code: NETSUNION_BIZ_CODES.otp_attempts_exceeded, desc: "otp_attempts_exceeded", fields: {} };
  return { status: "02", code: "PB000001", desc: "待确认", fields: {} };
}

function toBiz(result: EngineResult<TxnValue>, fields: (value: TxnValue) => XmlElement): BizOutcome {
  switch (result.outcome) {
    case "ok":
      return { status: "00", code: "PB000000", desc: "成功", fields: fields(result.value) };
    case "declined":
      return { status: "01", code: result.raw_code ?? NETSUNION_BIZ_CODES[result.reason], desc: result.raw_code ? "declined" : result.reason, fields: {} };
    case "processing":
      return { status: "02", code: "PB000002", desc: "处理中", fields: {} };
  }
}

function respond(ctx: SandboxContext, request: Header | null, sys: { code: string; desc: string }, biz: BizOutcome | null): WireAnswer {
  const now = ctx.clock.now();
  const response_type = request?.MsgTp && /^epcc\.\d{3}\./.test(request.MsgTp) ? request.MsgTp.replace(/^epcc\.(\d{3})/, (_m, n: string) => `epcc.${String(Number(n) + 1).padStart(3, "0")}`) : "epcc.999.001.01";
  const header: XmlElement = {
    SndDt: beijingIsoLocal(now), MsgTp: response_type, IssrId: NETSUNION_NETWORK_ID, Drctn: "21",
    SignSN: ctx.keys.netsunion.key_id, MsgId: randomHexText(16), RltdMsgId: request?.MsgId ?? "",
  };
  const body: XmlElement = { SysRtnInf: { SysRtnCd: sys.code, SysRtnDesc: sys.desc, SysRtnTm: beijingCompact(now) } };
  if (biz) body.BizInf = { BizStsCd: biz.status, BizRtnCd: biz.code, BizRtnDesc: biz.desc, ...biz.fields };
  return { kind: "answer", status: sys.code === NETSUNION_SYSTEM.ok ? 200 : 400, content_type: "application/xml; charset=utf-8", body: sign(ctx, { MsgHeader: header, MsgBody: body }) };
}

function sign(ctx: SandboxContext, content: XmlElement): string {
  const xml = writeXml("root", NETSUNION_NAMESPACE, content);
  return `${xml}{S:${signAsNetwork(xml, ctx.keys.netsunion.private_key_hex).toString("base64")}}`;
}

/** A notification from NetsUnion to paycore (epcc.501 result notice, epcc.503 unbind notice). */
export function encodeNetsUnionNotification(ctx: SandboxContext, event: NotifyEvent, now: Date): { content_type: string; body: string } {
  const header: XmlElement = {
    SndDt: beijingIsoLocal(now), MsgTp: event.type === "txn_result" ? "epcc.501.001.01" : "epcc.503.001.01", IssrId: NETSUNION_NETWORK_ID,
    Drctn: "11", SignSN: ctx.keys.netsunion.key_id, MsgId: randomHexText(16),
  };
  let body: XmlElement;
  if (event.type === "txn_result") {
    const biz = toBiz(event.record.result, (v) => moneyFields(event.record.txn_id, v));
    body = { NtfctnId: event.notification_id, TrxId: event.record.txn_id, OrgnlTrxCtgy: CATEGORY_OF_KIND[event.record.kind], BizStsCd: biz.status, BizRtnCd: biz.code, ...biz.fields };
  } else {
    const a = event.agreement;
    body = { NtfctnId: event.notification_id, SgnNo: a.agreement_no, SgnAcctIdLast4: a.card_number.slice(-4), RscsnDt: beijingIsoLocal(a.unbound_at ?? now), RscsnRsn: "HOLDER_REQUEST" };
  }
  return { content_type: "application/xml; charset=utf-8", body: sign(ctx, { MsgHeader: header, MsgBody: body }) };
}
