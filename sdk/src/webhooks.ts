import { verifyAnswerSignature } from "./signing.ts";
import { PaycoreSignatureError } from "./errors.ts";

/** A notification as paycore POSTs it (docs/notifications.md). */
export interface WebhookEvent<T = Record<string, unknown>> {
  id: string;
  type: string;
  created_at: string;
  data: T;
}

export interface VerifyWebhookOptions {
  /** The raw request body, exactly as received (verify before parsing). */
  body: string | Uint8Array;
  /** The request headers (any case); a Headers object or a plain record as Node and frameworks give them. */
  headers: Headers | Record<string, string | string[] | undefined>;
  /** The secret of the API key named in Paycore-Key-Id; several while rotating keys. */
  secrets: string | readonly string[];
  /** How far Paycore-Timestamp may be from now; default 300 s, as for requests. */
  tolerance_s?: number;
  now_s?: number;
}

function header(headers: VerifyWebhookOptions["headers"], name: string): string | null {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name);
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

/**
 * Checks a notification's signature and age and answers the parsed event; throws
 * PaycoreSignatureError otherwise. The same event id can arrive more than once (retries):
 * process each id once.
 */
export function verifyWebhook<T = Record<string, unknown>>(options: VerifyWebhookOptions): WebhookEvent<T> {
  const body = typeof options.body === "string" ? options.body : Buffer.from(options.body).toString("utf8");
  const timestamp = header(options.headers, "paycore-timestamp");
  const nonce = header(options.headers, "paycore-nonce");
  const signature = header(options.headers, "paycore-signature");
  if (!timestamp || !nonce || !signature) throw new PaycoreSignatureError("notification without Paycore-Timestamp, Paycore-Nonce and Paycore-Signature");
  if (!/^\d{1,12}$/.test(timestamp)) throw new PaycoreSignatureError("Paycore-Timestamp is not unix seconds");
  const now_s = options.now_s ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now_s - Number(timestamp)) > (options.tolerance_s ?? 300)) throw new PaycoreSignatureError("notification timestamp too far from now (replayed or clock skew)");
  const secrets = typeof options.secrets === "string" ? [options.secrets] : options.secrets;
  if (!secrets.some((s) => verifyAnswerSignature(s, timestamp, nonce, body, signature))) throw new PaycoreSignatureError("notification signature does not verify");
  return JSON.parse(body) as WebhookEvent<T>;
}
