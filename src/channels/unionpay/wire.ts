import { createHash } from "node:crypto";
import { assert } from "../../kernel/assert.ts";
import { rsaOaepEncrypt, rsaSha256Sign, rsaSha256Verify } from "../../kernel/crypto/rsa.ts";
import type { CardElements } from "../types.ts";

/**
 * UnionPay back-end message encoding (ACP 5.1.0 style): form-encoded pairs, signed as
 * base64(RSA-SHA256(hex(SHA-256(sorted "k=v&…" without `signature`)))).
 */
export function signingString(fields: Readonly<Record<string, string>>): string {
  return Object.keys(fields).filter((k) => k !== "signature").sort().map((k) => `${k}=${fields[k]}`).join("&");
}

function digestHex(fields: Readonly<Record<string, string>>): string {
  return createHash("sha256").update(signingString(fields), "utf8").digest("hex");
}

export function signForm(fields: Record<string, string>, private_key_pem: string): string {
  const signature = rsaSha256Sign(digestHex(fields), private_key_pem).toString("base64");
  return new URLSearchParams(Object.entries({ ...fields, signature })).toString();
}

export function verifyForm(fields: Readonly<Record<string, string>>, certificate_pem: string): boolean {
  const signature = fields.signature;
  return signature !== undefined && rsaSha256Verify(digestHex(fields), Buffer.from(signature, "base64"), certificate_pem);
}

/** Decodes form pairs; null on repeated or odd keys. */
export function readForm(raw: string): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    if (Object.hasOwn(out, k) || !/^[A-Za-z][A-Za-z0-9]{0,31}$/.test(k)) return null;
    out[k] = v;
  }
  return out;
}

const BRACE_SAFE = /^[^&={}]*$/;

function braced(pairs: Record<string, string>): string {
  const parts = Object.entries(pairs).map(([k, v]) => {
    assert(BRACE_SAFE.test(v), `customerInfo field ${k} holds a reserved character`);
    return `${k}=${v}`;
  });
  return `{${parts.join("&")}}`;
}

/** `accNo` and `customerInfo` with the sensitive elements RSA-OAEP-encrypted to the network. */
export function encryptCard(card: CardElements, network_certificate_pem: string): { accNo: string; customerInfo: string } {
  const secret: Record<string, string> = { certifId: card.id_number, customerNm: card.holder_name, phoneNo: card.phone };
  if (card.cvn2) secret.cvn2 = card.cvn2;
  if (card.expiry) secret.expired = card.expiry;
  const inner = braced(secret).slice(1, -1);
  const encrypted = rsaOaepEncrypt(Buffer.from(inner, "utf8"), network_certificate_pem).toString("base64");
  return {
    accNo: rsaOaepEncrypt(Buffer.from(card.card_number, "utf8"), network_certificate_pem).toString("base64"),
    customerInfo: Buffer.from(`{certifTp=01&encryptedInfo=${encrypted}}`, "utf8").toString("base64"),
  };
}

export function smsCustomerInfo(otp: string): string {
  return Buffer.from(braced({ smsCode: otp }), "utf8").toString("base64");
}

/** `YYYYMMDD` → `YYYY-MM-DD`; null when malformed. */
export function isoDate(compact: string | undefined): string | null {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(compact ?? "");
  return m ? `${m[1]}-${m[2]}-${m[3]}` : null;
}
