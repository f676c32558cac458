import { randomBytes } from "node:crypto";
import http from "node:http";
import { signRequest, type Credentials } from "../../src/client/index.ts";

export interface RawResponse {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

/**
 * One HTTP request with exactly the bytes and headers given (fetch drops a forged `Host` and
 * re-encodes bodies): for edge tests.
 */
export function rawRequest(base_url: string, r: { method: string; path: string; headers?: Record<string, string>; body?: string }): Promise<RawResponse> {
  const url = new URL(base_url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method: r.method, path: r.path, headers: r.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode ?? 0, body, text });
      });
    });
    req.on("error", reject);
    req.end(r.body);
  });
}

/** A signed merchant request over `rawRequest`; `path` is signed as given. */
export function rawMerchantRequest(
  base_url: string,
  creds: Credentials,
  now_s: number,
  r: { method: string; path: string; body?: string; headers?: Record<string, string> },
): Promise<RawResponse> {
  const body = r.body ?? "";
  const authorization = signRequest(creds, r.method, r.path, body, now_s, randomBytes(16).toString("hex"));
  const headers = { authorization, ...(body ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) } : {}), ...r.headers };
  return rawRequest(base_url, { method: r.method, path: r.path, headers, body });
}
