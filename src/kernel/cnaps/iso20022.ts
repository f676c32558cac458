import { XMLBuilder, XMLParser, XMLValidator } from "fast-xml-parser";
import { sm2Sign, sm2Verify } from "../crypto/sm2.ts";
import { formatYuan, type Fen } from "../money.ts";
import { RAILS, type Rail } from "./hours.ts";

/**
 * The CNAPS messages paycore and the rails exchange, ISO 20022 style: pacs.008 credit transfer,
 * pacs.002 status report, pacs.028 status request, pacs.004 return, camt.054 credit notice. One
 * codec for both sides (the message format is the shared contract; the domain logic of each side
 * is its own). A message travels as the XML document followed by `{S:<base64 SM2 signature over
 * the XML bytes>}`, as the NetsUnion messages do. Parsing refuses DTDs, comments, CDATA and
 * entities other than the five predefined ones (fast-xml-parser with entity processing off).
 */
export const ISO_LIMITS = { message_bytes_max: 32 * 1024, text_length_max: 140, name_length_max: 128 } as const;

export const TX_STATUSES = ["ACSC", "ACSP", "PDNG", "RJCT"] as const;
/** ACSC settled; ACSP accepted, settles later (a BEPS batch, a forwarded credit); PDNG not known; RJCT refused. */
export type TxStatus = (typeof TX_STATUSES)[number];

/** Reasons a rail or a payee bank gives for RJCT and returns (the sandbox's proprietary codes). */
export const REJECT_REASONS = {
  CLSD: "the rail is closed",
  OCAP: "over the rail's per-item cap",
  NIBP: "the payee bank does not take part in IBPS",
  AC04: "the payee account is closed",
  AC01: "the payee account number is wrong",
  RR03: "the payee name does not match the account",
  DUPL: "another message has this message id",
  NAME: "the payer name is not the account holder's legal name",
} as const;
export type RejectReason = keyof typeof REJECT_REASONS;

export interface Party {
  name: string;
  account: string;
  /** 12-digit CNAPS code of the account's bank branch. */
  agent: string;
}

export interface CreditTransfer {
  type: "pacs.008";
  msg_id: string;
  created_at: Date;
  rail: Rail;
  end_to_end_id: string;
  amount: Fen;
  debtor: Party;
  creditor: Party;
  purpose: string;
}

export interface StatusReport {
  type: "pacs.002";
  msg_id: string;
  created_at: Date;
  original_msg_id: string;
  end_to_end_id: string;
  status: TxStatus;
  reason: string | null;
  settled_at: Date | null;
}

export interface StatusRequest {
  type: "pacs.028";
  msg_id: string;
  created_at: Date;
  original_msg_id: string;
}

export interface PaymentReturn {
  type: "pacs.004";
  msg_id: string;
  created_at: Date;
  /** The transfer sent back (a payout's message id, or a deposit's entry reference). */
  original_msg_id: string;
  end_to_end_id: string;
  amount: Fen;
  reason: string;
}

export interface CreditNotice {
  type: "camt.054";
  msg_id: string;
  created_at: Date;
  entry_ref: string;
  amount: Fen;
  debtor: Party;
  /** What the payer wrote: for a deposit, the merchant ID to top up. */
  remittance: string;
}

export type CnapsMessage = CreditTransfer | StatusReport | StatusRequest | PaymentReturn | CreditNotice;

const NAMESPACES: Record<CnapsMessage["type"], { ns: string; root: string }> = {
  "pacs.008": { ns: "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08", root: "FIToFICstmrCdtTrf" },
  "pacs.002": { ns: "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10", root: "FIToFIPmtStsRpt" },
  "pacs.028": { ns: "urn:iso:std:iso:20022:tech:xsd:pacs.028.001.03", root: "FIToFIPmtStsReq" },
  "pacs.004": { ns: "urn:iso:std:iso:20022:tech:xsd:pacs.004.001.09", root: "PmtRtr" },
  "camt.054": { ns: "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08", root: "BkToCstmrDbtCdtNtfctn" },
};

const CLEARING_CODES: Record<Rail, string> = { hvps: "HVPS", beps: "BEPS", ibps: "IBPS", bank_direct: "BDIR" };

const amountText = (fen: Fen) => formatYuan(fen).replace(/,/g, "");
const amountNode = (fen: Fen) => ({ "@_Ccy": "CNY", "#text": amountText(fen) });
const party = (p: Party) => ({ Nm: p.name, Acct: { Id: { Othr: { Id: p.account } } }, Agt: { FinInstnId: { ClrSysMmbId: { MmbId: p.agent } } } });

function body(m: CnapsMessage): Record<string, unknown> {
  const GrpHdr = { MsgId: m.msg_id, CreDtTm: m.created_at.toISOString() };
  switch (m.type) {
    case "pacs.008":
      return {
        GrpHdr: { ...GrpHdr, NbOfTxs: "1", SttlmInf: { SttlmMtd: "CLRG", ClrSys: { Prtry: CLEARING_CODES[m.rail] } } },
        CdtTrfTxInf: { PmtId: { EndToEndId: m.end_to_end_id, TxId: m.msg_id }, IntrBkSttlmAmt: amountNode(m.amount), ChrgBr: "SLEV", Dbtr: party(m.debtor), Cdtr: party(m.creditor), RmtInf: { Ustrd: m.purpose } },
      };
    case "pacs.002":
      return {
        GrpHdr,
        TxInfAndSts: {
          OrgnlTxId: m.original_msg_id, OrgnlEndToEndId: m.end_to_end_id, TxSts: m.status,
          ...(m.reason ? { StsRsnInf: { Rsn: { Prtry: m.reason } } } : {}),
          ...(m.settled_at ? { AccptncDtTm: m.settled_at.toISOString() } : {}),
        },
      };
    case "pacs.028":
      return { GrpHdr, TxInf: { OrgnlTxId: m.original_msg_id } };
    case "pacs.004":
      return { GrpHdr, TxInf: { RtrId: m.msg_id, OrgnlTxId: m.original_msg_id, OrgnlEndToEndId: m.end_to_end_id, RtrdIntrBkSttlmAmt: amountNode(m.amount), RtrRsnInf: { Rsn: { Prtry: m.reason } } } };
    case "camt.054":
      return {
        GrpHdr,
        Ntfctn: { Ntry: { NtryRef: m.entry_ref, Amt: amountNode(m.amount), CdtDbtInd: "CRDT", NtryDtls: { TxDtls: { RltdPties: { Dbtr: party(m.debtor) }, RmtInf: { Ustrd: m.remittance } } } } },
      };
  }
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@_", processEntities: true });

export function toXml(m: CnapsMessage): string {
  const { ns, root } = NAMESPACES[m.type];
  return `<?xml version="1.0" encoding="UTF-8"?>${builder.build({ Document: { "@_xmlns": ns, [root]: body(m) } })}`;
}

export function signMessage(m: CnapsMessage, private_key_hex: string): string {
  const xml = toXml(m);
  return `${xml}{S:${sm2Sign(xml, private_key_hex).toString("base64")}}`;
}

export type Opened = { ok: true; message: CnapsMessage } | { ok: false; reason: "unsigned" | "bad_signature" | "malformed"; detail: string };

/** Verifies the signature first, then reads the document; anything unexpected is refused. */
export function openMessage(raw: string, public_key_hex: string): Opened {
  if (raw.length > ISO_LIMITS.message_bytes_max) return { ok: false, reason: "malformed", detail: "message too large" };
  const signed = /\{S:([A-Za-z0-9+/=]{16,400})\}\s*$/.exec(raw);
  if (!signed) return { ok: false, reason: "unsigned", detail: "message is not signed" };
  const xml = raw.slice(0, signed.index);
  if (!sm2Verify(xml, Buffer.from(signed[1]!, "base64"), public_key_hex)) return { ok: false, reason: "bad_signature", detail: "signature does not verify" };
  try {
    return { ok: true, message: readMessage(xml) };
  } catch (error) {
    return { ok: false, reason: "malformed", detail: (error as Error).message };
  }
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@_", processEntities: false, htmlEntities: false, parseTagValue: false, parseAttributeValue: false, trimValues: true });

type Node = Record<string, unknown>;

function unescape(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos);|&/g, (match, name: string | undefined) => {
    const table: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
    if (name === undefined) throw new Error(`unsupported entity near ${match}`);
    return table[name]!;
  });
}

function at(node: unknown, path: string): unknown {
  let cur = node;
  for (const part of path.split(".")) {
    if (typeof cur !== "object" || cur === null || Array.isArray(cur)) throw new Error(`missing ${path}`);
    cur = (cur as Node)[part];
  }
  return cur;
}

function text(node: unknown, path: string, pattern?: RegExp): string {
  const value = at(node, path);
  if (typeof value !== "string" || value.length === 0) throw new Error(`${path} must be text`);
  const out = unescape(value);
  if (out.length > ISO_LIMITS.text_length_max) throw new Error(`${path} is too long`);
  if (pattern && !pattern.test(out)) throw new Error(`${path} is malformed`);
  return out;
}

function optionalText(node: unknown, path: string): string | null {
  try {
    return text(node, path);
  } catch {
    return null;
  }
}

const MSG_ID = /^[A-Za-z0-9_-]{8,64}$/;
const CNAPS = /^\d{12}$/;

function time(node: unknown, path: string): Date {
  const t = new Date(text(node, path, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/));
  if (Number.isNaN(t.getTime())) throw new Error(`${path} is not a time`);
  return t;
}

function amount(node: unknown, path: string): Fen {
  const value = at(node, path) as Node;
  if (at(value, "@_Ccy") !== "CNY") throw new Error(`${path} must be in CNY`);
  const digits = text(value, "#text", /^\d{1,13}\.\d{2}$/).replace(".", "");
  const fen = BigInt(digits);
  if (fen <= 0n) throw new Error(`${path} must be positive`);
  return fen;
}

function readParty(node: unknown, path: string): Party {
  return { name: text(node, `${path}.Nm`), account: text(node, `${path}.Acct.Id.Othr.Id`, /^\d{8,32}$/), agent: text(node, `${path}.Agt.FinInstnId.ClrSysMmbId.MmbId`, CNAPS) };
}

function readMessage(xml: string): CnapsMessage {
  if (/<!|<\?(?!xml )/.test(xml.replace(/^\uFEFF?\s*<\?xml[^?]*\?>/, ""))) throw new Error("DTDs, comments, CDATA and processing instructions are not accepted");
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`not well-formed XML: ${valid.err.msg}`);
  const doc = at(parser.parse(xml), "Document") as Node;
  const type = (Object.keys(NAMESPACES) as CnapsMessage["type"][]).find((t) => doc["@_xmlns"] === NAMESPACES[t].ns);
  if (!type) throw new Error("unknown message namespace");
  const root = at(doc, NAMESPACES[type].root);
  const head = { msg_id: text(root, "GrpHdr.MsgId", MSG_ID), created_at: time(root, "GrpHdr.CreDtTm") };
  switch (type) {
    case "pacs.008": {
      const code = text(root, "GrpHdr.SttlmInf.ClrSys.Prtry");
      const rail = RAILS.find((r) => CLEARING_CODES[r] === code);
      if (!rail) throw new Error(`unknown clearing system ${code}`);
      const tx = at(root, "CdtTrfTxInf");
      if (text(tx, "PmtId.TxId") !== head.msg_id) throw new Error("TxId must equal MsgId (one transaction per message)");
      return { type, ...head, rail, end_to_end_id: text(tx, "PmtId.EndToEndId", MSG_ID), amount: amount(tx, "IntrBkSttlmAmt"), debtor: readParty(tx, "Dbtr"), creditor: readParty(tx, "Cdtr"), purpose: text(tx, "RmtInf.Ustrd") };
    }
    case "pacs.002": {
      const tx = at(root, "TxInfAndSts");
      const status = text(tx, "TxSts") as TxStatus;
      if (!TX_STATUSES.includes(status)) throw new Error(`unknown TxSts ${status}`);
      const settled = optionalText(tx, "AccptncDtTm");
      return { type, ...head, original_msg_id: text(tx, "OrgnlTxId", MSG_ID), end_to_end_id: text(tx, "OrgnlEndToEndId", MSG_ID), status, reason: optionalText(tx, "StsRsnInf.Rsn.Prtry"), settled_at: settled ? time(tx, "AccptncDtTm") : null };
    }
    case "pacs.028":
      return { type, ...head, original_msg_id: text(root, "TxInf.OrgnlTxId", MSG_ID) };
    case "pacs.004": {
      const tx = at(root, "TxInf");
      return { type, ...head, original_msg_id: text(tx, "OrgnlTxId", MSG_ID), end_to_end_id: text(tx, "OrgnlEndToEndId", MSG_ID), amount: amount(tx, "RtrdIntrBkSttlmAmt"), reason: text(tx, "RtrRsnInf.Rsn.Prtry") };
    }
    case "camt.054": {
      const entry = at(root, "Ntfctn.Ntry");
      if (text(entry, "CdtDbtInd") !== "CRDT") throw new Error("only credit notices are accepted");
      return { type, ...head, entry_ref: text(entry, "NtryRef", MSG_ID), amount: amount(entry, "Amt"), debtor: readParty(entry, "NtryDtls.TxDtls.RltdPties.Dbtr"), remittance: text(entry, "NtryDtls.TxDtls.RmtInf.Ustrd") };
    }
  }
}
