import { createHmac, timingSafeEqual } from "node:crypto";

/** Merchant credentials: the merchant ID and one of its API keys (the secret is shown once). */
export interface Credentials {
  mch_id: string;
  key_id: string;
  secret: string;
}

export const AUTH_SCHEME = "PAYCORE-HMAC-SHA256";

const hmacBase64 = (secret: string, text: string): string => createHmac("sha256", Buffer.from(secret, "utf8")).update(text, "utf8").digest("base64");

/** METHOD \n PATH_WITH_QUERY \n timestamp \n nonce \n BODY \n — BODY the exact bytes sent ("" for GET). */
export function requestStringToSign(method: string, path_with_query: string, timestamp_s: number, nonce: string, body: string): string {
  return `${method.toUpperCase()}\n${path_with_query}\n${timestamp_s}\n${nonce}\n${body}\n`;
}

/** timestamp \n nonce \n BODY \n — how paycore signs its answers and its notifications. */
export function answerStringToSign(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

/** The Authorization header of one request. */
export function authorizationHeader(creds: Credentials, method: string, path_with_query: string, body: string, timestamp_s: number, nonce: string): string {
  const signature = hmacBase64(creds.secret, requestStringToSign(method, path_with_query, timestamp_s, nonce, body));
  return `${AUTH_SCHEME} mch_id="${creds.mch_id}",key_id="${creds.key_id}",timestamp="${timestamp_s}",nonce="${nonce}",signature="${signature}"`;
}

/** Whether `signature` is paycore's signature of (timestamp, nonce, body) under `secret`; constant time. */
export function verifyAnswerSignature(secret: string, timestamp: string, nonce: string, body: string, signature: string): boolean {
  const expected = Buffer.from(hmacBase64(secret, answerStringToSign(timestamp, nonce, body)));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
