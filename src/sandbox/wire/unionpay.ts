import { createHash } from "node:crypto";
import { z } from "zod";
import { maskPhone } from "../../kernel/mask.ts";
import { rsaOaepDecrypt, rsaSha256Sign, rsaSha256Verify } from "../../kernel/crypto/rsa.ts";
import { beijingCompact, parseBeijing } from "../calendar.ts";
import type { SandboxContext, WireAnswer } from "../context.ts";
import type { CardElements, ForcedDecline, TxnRecord, TxnValue } from "../engine.ts";
import type { FaultPlan } from "../faults.ts";
import { CapacityError } from "../limits.ts";
import type { EngineResult, NetworkId, Operation } from "../model.ts";
import type { NotifyEvent } from "../notifier.ts";
import { randomHexText } from "../../kernel/random.ts";
import { isFresh } from "../replay.ts";
import { spoilSignature, statementFile } from "../statements.ts";
import { UNIONPAY_RESP_CODES, UNIONPAY_SYSTEM } from "./codes.ts";

/**
 * UnionPay-style wire (modelled on the ACP 5.1.0 back-end interface): form-encoded key=value
 * pairs; `signature` = base64(RSA-SHA256(hex(SHA-256(sorted "k=v&…" without signature)))) with the
 * signer's certificate serial in `certId`. The card number (`accNo`) and the holder's name, ID
 * number, phone, CVN2 and expiry (`customerInfo.encryptedInfo`) are RSA-OAEP-encrypted to the
 * network's certificate (`encryptCertId`). Transaction type codes are the sandbox's conventions.
 */
export const UNIONPAY_BIZ_TYPES: Record<string, NetworkId> = { "000301": "unionpay_nocard", "000902": "unionpay_quickpay" };

type MessageKind = "sign_apply" | "sign_resend" | "sign_confirm" | "sign_sync" | "unbind" | "pay" | "refund" | "query" | "statement";
const KIND_OF_TYPE: Record<string, MessageKind> = {
  "77/00": "sign_apply", "77/02": "sign_resend", "79/00": "sign_confirm", "79/01": "sign_sync", "74/01": "unbind",
  "01/01": "pay", "04/00": "refund", "00/00": "query", "76/01": "statement",
};
const TYPE_OF_KIND: Record<TxnRecord["kind"], [string, string]> = {
  sign_apply: ["77", "00"], sign_resend: ["77", "02"], sign_sync: ["79", "01"], unbind: ["74", "01"], pay: ["01", "01"], refund: ["04", "00"],
};
const OPERATION_OF: Record<MessageKind, Operation> = {
  sign_apply: "sign", sign_resend: "sign", sign_confirm: "confirm", sign_sync: "sync", unbind: "unbind",
  pay: "pay", refund: "refund", query: "query", statement: "statement",
};

const id = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "1-32 letters, digits, _ or -");
const CommonSchema = z.object({
  version: z.literal("5.1.0"), encoding: z.literal("UTF-8"), signMethod: z.literal("01"), certId: z.string().regex(/^\d{1,40}$/),
  txnType: z.string().regex(/^\d{2}$/), txnSubType: z.string().regex(/^\d{2}$/), bizType: z.enum(["000301", "000902"]),
  accessType: z.literal("0"), merId: z.string().regex(/^[A-Za-z0-9]{1,32}$/), orderId: id, txnTime: z.string().regex(/^\d{14}$/),
  nonce: z.string().regex(/^[A-Za-z0-9]{16,64}$/), signature: z.string().min(16).max(1024),
});
type Common = z.infer<typeof CommonSchema>;
const amount = z.string().regex(/^[1-9]\d{0,15}$/, "positive integer fen");
const BODY_SCHEMAS = {
  sign_apply: z.object({ accNo: z.string(), customerInfo: z.string(), encryptCertId: z.string() }),
  sign_sync: z.object({ accNo: z.string(), customerInfo: z.string(), encryptCertId: z.string() }),
  sign_resend: z.object({ origOrderId: id }),
  sign_confirm: z.object({ customerInfo: z.string() }),
  unbind: z.object({ token: z.string().min(1).max(64) }),
  pay: z.object({ token: z.string().min(1).max(64), txnAmt: amount, currencyCode: z.literal("156"), reqReserved: id }),
  refund: z.object({ origQryId: z.string().regex(/^\d{21}$/), txnAmt: amount, currencyCode: z.literal("156"), reqReserved: id }),
  query: z.object({ origOrderId: id }),
  statement: z.object({ settleDate: z.string().regex(/^\d{8}$/) }),
} as const;

interface Answer {
  code: string;
  msg: string;
  fields: Record<string, string>;
}

class BadBody extends Error {}

export function encodeForm(fields: Record<string, string>): string {
  return new URLSearchParams(Object.entries(fields)).toString();
}

export function signingString(fields: Record<string, string>): string {
  return Object.keys(fields).filter((k) => k !== "signature").sort().map((k) => `${k}=${fields[k]}`).join("&");
}

function digestHex(fields: Record<string, string>): string {
  return createHash("sha256").update(signingString(fields), "utf8").digest("hex");
}

function decodeForm(raw: string): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    if (Object.hasOwn(out, k) || !/^[A-Za-z][A-Za-z0-9]{0,31}$/.test(k)) return null;
    out[k] = v;
  }
  return out;
}

/** `{k=v&k=v}` in base64, as UnionPay packs `customerInfo`. */
function unpackBraced(text: string): Record<string, string> {
  const inner = /^\{(.*)\}$/s.exec(text);
  if (!inner) throw new BadBody("customerInfo is not {k=v&...}");
  const out: Record<string, string> = {};
  for (const pair of inner[1]!.split("&").filter(Boolean)) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new BadBody("customerInfo has a bad pair");
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

type Checked = { ok: false; code: string; msg: string; fields: Record<string, string> | null } | { ok: true; common: Common; fields: Record<string, string>; kind: MessageKind; network: NetworkId };

function checkRequest(ctx: SandboxContext, raw: string): Checked {
  const fields = decodeForm(raw);
  if (!fields) return { ok: false, code: UNIONPAY_SYSTEM.malformed, msg: "body is not key=value pairs", fields: null };
  if (!fields.signature) return { ok: false, code: UNIONPAY_SYSTEM.signature_invalid, msg: "message is not signed", fields };
  const parsed = CommonSchema.safeParse(fields);
  if (!parsed.success) return { ok: false, code: UNIONPAY_SYSTEM.malformed, msg: `bad common fields: ${parsed.error.issues.map((i) => i.path.join(".")).join(", ")}`, fields };
  const common = parsed.data;
  const peer = ctx.peers.unionpay(common.certId);
  if (!peer || peer.cert_id !== common.certId) return { ok: false, code: UNIONPAY_SYSTEM.unknown_certificate, msg: `unknown certificate ${common.certId}`, fields };
  if (!rsaSha256Verify(digestHex(fields), Buffer.from(common.signature, "base64"), peer.certificate_pem)) {
    return { ok: false, code: UNIONPAY_SYSTEM.signature_invalid, msg: "signature does not verify", fields };
  }
  const sent_at = parseBeijing(common.txnTime);
  if (!sent_at || !isFresh(sent_at, ctx.clock.now())) return { ok: false, code: UNIONPAY_SYSTEM.stale, msg: "txnTime outside the accepted window", fields };
  if (!ctx.seen.remember(`unionpay:${common.merId}:${common.nonce}`, ctx.clock.now().getTime())) return { ok: false, code: UNIONPAY_SYSTEM.replayed, msg: "message already received", fields };
  const kind = KIND_OF_TYPE[`${common.txnType}/${common.txnSubType}`];
  if (!kind) return { ok: false, code: UNIONPAY_SYSTEM.malformed, msg: `unknown txnType ${common.txnType}/${common.txnSubType}`, fields };
  return { ok: true, common, fields, kind, network: UNIONPAY_BIZ_TYPES[common.bizType]! };
}

export async function handleUnionPay(ctx: SandboxContext, raw: string): Promise<WireAnswer> {
  let checked: Checked;
  try {
    checked = checkRequest(ctx, raw);
  } catch (error) {
    if (error instanceof CapacityError) return respond(ctx, null, { code: UNIONPAY_SYSTEM.busy, msg: "sandbox capacity reached", fields: {} }, 400);
    throw error;
  }
  if (!checked.ok) {
    ctx.log.info({ code: checked.code, reason: checked.msg }, "unionpay message refused");
    return respond(ctx, checked.fields, { code: checked.code, msg: checked.msg, fields: {} }, 400);
  }
  const plan = ctx.faults.plan(checked.network, OPERATION_OF[checked.kind]);
  if (plan.latency_ms > 0) await new Promise((resolve) => setTimeout(resolve, plan.latency_ms));
  let answer: Answer;
  try {
    answer = await dispatch(ctx, checked, plan);
  } catch (error) {
    if (error instanceof BadBody) return respond(ctx, checked.fields, { code: UNIONPAY_SYSTEM.malformed, msg: error.message, fields: {} }, 400);
    if (error instanceof CapacityError) return respond(ctx, checked.fields, { code: UNIONPAY_SYSTEM.busy, msg: error.message, fields: {} }, 400);
    throw error;
  }
  if (plan.timeout) return { kind: "no_answer" };
  if (plan.unknown && checked.kind !== "statement") answer = { code: UNIONPAY_SYSTEM.processing, msg: "交易已受理", fields: {} };
  const wire = respond(ctx, checked.fields, answer, 200);
  const day = checked.fields.settleDate ?? "";
  const spoil = checked.kind === "statement" && ctx.statement_faults.consume(checked.network, `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}`, "bad_signature");
  return spoil ? spoilSignature(wire, "respMsg=") : wire;
}

function parseBody<K extends MessageKind>(kind: K, fields: Record<string, string>): z.infer<(typeof BODY_SCHEMAS)[K]> {
  const parsed = BODY_SCHEMAS[kind].safeParse(fields);
  if (!parsed.success) throw new BadBody(`bad fields: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data as z.infer<(typeof BODY_SCHEMAS)[K]>;
}

function customerInfo(packed: string): Record<string, string> {
  return unpackBraced(Buffer.from(packed, "base64").toString("utf8"));
}

function decryptElements(ctx: SandboxContext, body: { accNo: string; customerInfo: string; encryptCertId: string }): CardElements {
  if (body.encryptCertId !== ctx.keys.unionpay.cert_id) throw new BadBody("encrypted to an unknown certificate");
  const info = customerInfo(body.customerInfo);
  try {
    const card_number = rsaOaepDecrypt(Buffer.from(body.accNo, "base64"), ctx.keys.unionpay.private_key_pem).toString("utf8");
    const secret = rsaOaepDecrypt(Buffer.from(info.encryptedInfo ?? "", "base64"), ctx.keys.unionpay.private_key_pem).toString("utf8");
    const fields = unpackBraced(`{${secret}}`);
    if (info.certifTp !== "01") throw new BadBody("certifTp must be 01 (resident ID)");
    return {
      card_number, holder_name: fields.customerNm ?? "", id_number: fields.certifId ?? "", phone: fields.phoneNo ?? "",
      cvn2: fields.cvn2 ?? null, expiry: fields.expired ?? null,
    };
  } catch (error) {
    if (error instanceof BadBody) throw error;
    throw new BadBody("encrypted fields do not decrypt");
  }
}

/** Synchronous but for a statement and a retired original brought back from the archive (src/sandbox/archive.ts). */
async function dispatch(ctx: SandboxContext, checked: Extract<Checked, { ok: true }>, plan: FaultPlan): Promise<Answer> {
  const { engine } = ctx;
  const { common, fields, network } = checked;
  const forced: ForcedDecline = plan.decline;
  switch (checked.kind) {
    case "sign_apply": {
      const result = engine.signApply(network, common.orderId, common.merId, decryptElements(ctx, parseBody("sign_apply", fields)), forced);
      return toAnswer(result, (v) => ({ phoneNoMasked: maskPhone(engine.cards.get(v.card_number ?? "")?.phone ?? "") }));
    }
    case "sign_sync": {
      const result = engine.signSync(network, common.orderId, common.merId, decryptElements(ctx, parseBody("sign_sync", fields)), forced);
      return toAnswer(result, (v) => ({ token: v.agreement_no ?? "", verifyBits: v.verified ?? "" }));
    }
    case "sign_confirm": {
      const sms = customerInfo(parseBody("sign_confirm", fields).customerInfo).smsCode ?? "";
      return toAnswer(engine.signConfirm(network, common.orderId, sms, forced), (v) => ({ token: v.agreement_no ?? "", verifyBits: v.verified ?? "" }));
    }
    case "sign_resend":
      return toAnswer(engine.signResend(network, common.orderId, parseBody("sign_resend", fields).origOrderId, forced), () => ({}));
    case "unbind": {
      const token = parseBody("unbind", fields).token;
      return toAnswer(engine.unbind(network, common.orderId, common.merId, token, forced), () => ({ token }));
    }
    case "pay":
      return moneyMessage(ctx, checked, plan);
    case "refund":
      await engine.recall(network, { network_txn_id: parseBody("refund", fields).origQryId });
      return moneyMessage(ctx, checked, plan);
    case "query": {
      const original_id = parseBody("query", fields).origOrderId;
      await engine.recall(network, { txn_id: original_id });
      return queryMessage(ctx, network, original_id, forced);
    }
    case "statement": {
      const day = parseBody("statement", fields).settleDate;
      if (forced) return toAnswer({ outcome: "declined", reason: forced.reason, raw_code: forced.raw_code }, () => ({}));
      const date = `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}`;
      if (ctx.statement_faults.consume(network, date, "late")) return { code: UNIONPAY_SYSTEM.processing, msg: "对账文件未生成", fields: {} };
      const file = await statementFile(engine, network, date, common.merId, ctx.statement_faults);
      const published = ctx.statement_files.publish(network, date, file);
      return { code: UNIONPAY_SYSTEM.ok, msg: "成功", fields: { settleDate: day, fileName: published.name, fileSize: String(published.bytes), fileDigest: published.sha256 } };
    }
  }
}

function moneyMessage(ctx: SandboxContext, checked: Extract<Checked, { ok: true }>, plan: FaultPlan): Answer {
  const { common, fields, network } = checked;
  const before = ctx.engine.created_count;
  let result: EngineResult<TxnValue>;
  if (checked.kind === "pay") {
    const b = parseBody("pay", fields);
    result = ctx.engine.pay({ network, txn_id: common.orderId, pi_id: common.merId, agreement_no: b.token, amount_fen: BigInt(b.txnAmt), order_id: b.reqReserved }, plan.decline);
  } else {
    const b = parseBody("refund", fields);
    result = ctx.engine.refund({ network, txn_id: common.orderId, pi_id: common.merId, original_txn_id: null, original_network_txn_id: b.origQryId, amount_fen: BigInt(b.txnAmt), order_id: b.reqReserved }, plan.decline);
  }
  const record = ctx.engine.query(network, common.orderId);
  if (record && ctx.engine.created_count > before) {
    ctx.notifier.send({ type: "txn_result", notification_id: ctx.notifier.nextId(network), network, record }, plan.duplicate_notify ? 2 : 1);
  }
  return toAnswer(result, moneyFields);
}

function moneyFields(v: TxnValue): Record<string, string> {
  return {
    queryId: v.network_txn_id, token: v.agreement_no ?? "", txnAmt: String(v.amount_fen ?? 0n), txnFee: String(v.fee_fen ?? 0n),
    settleDate: (v.settlement_date ?? "").replace(/-/g, ""), traceNo: v.trace_no ?? "",
  };
}

function queryMessage(ctx: SandboxContext, network: NetworkId, original_id: string, forced: ForcedDecline): Answer {
  if (forced) return toAnswer({ outcome: "declined", reason: forced.reason, raw_code: forced.raw_code }, () => ({}));
  const record = ctx.engine.query(network, original_id);
  if (!record) return toAnswer({ outcome: "declined", reason: "original_not_found", raw_code: null }, () => ({}));
  const original = originalStatus(ctx, network, record);
  return { code: UNIONPAY_SYSTEM.ok, msg: "成功", fields: { origOrderId: original_id, origTxnType: TYPE_OF_KIND[record.kind][0], origTxnSubType: TYPE_OF_KIND[record.kind][1], origRespCode: original.code, origRespMsg: original.msg, ...original.fields } };
}

function originalStatus(ctx: SandboxContext, network: NetworkId, record: TxnRecord): Answer {
  const answer = toAnswer(record.result, (v) => (record.kind === "pay" || record.kind === "refund" ? moneyFields(v) : { token: v.agreement_no ?? "" }));
  if (record.kind !== "sign_apply" || answer.code !== UNIONPAY_SYSTEM.ok) return answer;
  const request = ctx.engine.signRequest(network, record.txn_id);
  if (request?.state === "signed") return { code: UNIONPAY_SYSTEM.ok, msg: "已开通", fields: { token: request.agreement_no ?? "", verifyBits: request.verified } };
  if (request?.state === "locked") return { code: UNIONPAY_RESP_CODES.otp_attempts_exceeded, msg: "otp_attempts_exceeded", fields: {} };
  return { code: UNIONPAY_SYSTEM.processing, msg: "待确认", fields: {} };
}

function toAnswer(result: EngineResult<TxnValue>, fields: (value: TxnValue) => Record<string, string>): Answer {
  switch (result.outcome) {
    case "ok":
      return { code: UNIONPAY_SYSTEM.ok, msg: "成功", fields: fields(result.value) };
    case "declined":
      return { code: result.raw_code ?? UNIONPAY_RESP_CODES[result.reason], msg: result.raw_code ? "declined" : result.reason, fields: {} };
    case "processing":
      return { code: UNIONPAY_SYSTEM.processing, msg: "交易已受理", fields: {} };
  }
}

function signFields(ctx: SandboxContext, fields: Record<string, string>): string {
  const signature = rsaSha256Sign(digestHex(fields), ctx.keys.unionpay.private_key_pem).toString("base64");
  return encodeForm({ ...fields, signature });
}

function respond(ctx: SandboxContext, request: Record<string, string> | null, answer: Answer, status: number): WireAnswer {
  const echo: Record<string, string> = {};
  for (const key of ["txnType", "txnSubType", "bizType", "merId", "orderId", "txnTime", "nonce"]) {
    const value = request?.[key];
    if (value !== undefined && /^[A-Za-z0-9_-]{0,64}$/.test(value)) echo[key] = value;
  }
  const fields = { version: "5.1.0", encoding: "UTF-8", signMethod: "01", certId: ctx.keys.unionpay.cert_id, ...echo, respCode: answer.code, respMsg: answer.msg, ...answer.fields };
  return { kind: "answer", status, content_type: "application/x-www-form-urlencoded; charset=utf-8", body: signFields(ctx, fields) };
}

/** A notification from UnionPay to paycore (a transaction result, or an unbind notice 0303). */
export function encodeUnionPayNotification(ctx: SandboxContext, event: NotifyEvent, now: Date): { content_type: string; body: string } {
  const common = {
    version: "5.1.0", encoding: "UTF-8", signMethod: "01", certId: ctx.keys.unionpay.cert_id, notifyId: event.notification_id,
    bizType: event.network === "unionpay_quickpay" ? "000902" : "000301", sendTime: beijingCompact(now), nonce: randomHexText(16),
  };
  let fields: Record<string, string>;
  if (event.type === "txn_result") {
    const answer = toAnswer(event.record.result, moneyFields);
    fields = { ...common, notifyType: "txn_result", txnType: TYPE_OF_KIND[event.record.kind][0], orderId: event.record.txn_id, respCode: answer.code, respMsg: answer.msg, ...answer.fields };
  } else {
    const a = event.agreement;
    fields = { ...common, notifyType: "unbind", txnType: "74", token: a.agreement_no, accNoLast4: a.card_number.slice(-4), unbindTime: beijingCompact(a.unbound_at ?? now) };
  }
  return { content_type: "application/x-www-form-urlencoded; charset=utf-8", body: signFields(ctx, fields) };
}
