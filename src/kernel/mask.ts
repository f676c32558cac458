/**
 * Masking of sensitive values wherever they could appear in a log line or an answer:
 * card numbers (keep first 6 / last 4), resident ID numbers, mobile phones, secrets, signatures.
 */
const CARD_RE = /(?<!\d)(\d{6})\d{3,9}(\d{4})(?!\d)/g; // 13..19 digits
const ID_RE = /(?<![\dA-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![\dA-Za-z])/g; // 18 chars
const PHONE_RE = /(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)/g;

export function maskText(text: string): string {
  return text
    .replace(ID_RE, (_m, a: string, b: string) => `${a}********${b.slice(-1) === "X" || b.slice(-1) === "x" ? "**" + b.slice(-2) : "***" + b.slice(-1)}`)
    .replace(CARD_RE, (_m, a: string, b: string) => `${a}******${b}`)
    .replace(PHONE_RE, (_m, a: string, b: string) => `${a}****${b}`);
}

export function maskCard(card_number: string): string {
  return card_number.length <= 10 ? "****" : `${card_number.slice(0, 6)}******${card_number.slice(-4)}`;
}

export function maskPhone(phone: string): string {
  return phone.length === 11 ? `${phone.slice(0, 3)}****${phone.slice(-4)}` : "****";
}

const SENSITIVE_KEYS = new Set([
  "secret", "signature", "authorization", "token", "password", "otp", "cvn2", "expiry",
  "card_number", "id_number", "phone", "holder_name", "api_key", "master_key", "x-paycore-signature",
  "paycore-signature", "admin_token", "cookie",
]);

/** Deep copy with sensitive keys replaced and free text masked; bounded depth. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return "[depth]";
  if (typeof value === "string") return maskText(value);
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => redact(v, depth + 1));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = SENSITIVE_KEYS.has(k.toLowerCase()) ? "[redacted]" : redact(v, depth + 1);
    }
    return out;
  }
  return value;
}
