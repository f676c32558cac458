import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * A minimal paycore Open API client: signs requests as docs/merchant-api.md says and verifies the signed
 * answer. Also the reference for merchants writing their own (docs/merchant-api.md).
 */
export interface Credentials {
  mch_id: string;
  key_id: string;
  secret: string;
}

export interface ClientResponse<T = unknown> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
  /** Whether Paycore-Signature verified with the secret (false when absent or wrong). */
  signature_valid: boolean;
}

const hmac = (secret: string, text: string) => createHmac("sha256", Buffer.from(secret, "utf8")).update(text, "utf8").digest("base64");

export function signRequest(creds: Credentials, method: string, path_with_query: string, body: string, timestamp: number, nonce: string): string {
  const signature = hmac(creds.secret, `${method}\n${path_with_query}\n${timestamp}\n${nonce}\n${body}\n`);
  return `PAYCORE-HMAC-SHA256 mch_id="${creds.mch_id}",key_id="${creds.key_id}",timestamp="${timestamp}",nonce="${nonce}",signature="${signature}"`;
}

export function verifyResponse(secret: string, headers: Headers, body: string): boolean {
  const timestamp = headers.get("paycore-timestamp");
  const nonce = headers.get("paycore-nonce");
  const signature = headers.get("paycore-signature");
  if (!timestamp || !nonce || !signature) return false;
  const expected = Buffer.from(hmac(secret, `${timestamp}\n${nonce}\n${body}\n`));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export class PaycoreClient {
  constructor(
    readonly base_url: string,
    readonly creds: Credentials,
    private readonly now_s: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  async request<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ClientResponse<T>> {
    const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
    const nonce = randomBytes(16).toString("hex");
    const authorization = signRequest(this.creds, method, path, text, this.now_s(), nonce);
    const res = await fetch(this.base_url + path, {
      method,
      headers: { authorization, ...(text ? { "content-type": "application/json" } : {}), ...headers },
      ...(text ? { body: text } : {}),
    });
    const answer = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      text: answer,
      body: (answer && res.headers.get("content-type")?.includes("json") ? JSON.parse(answer) : answer) as T,
      signature_valid: verifyResponse(this.creds.secret, res.headers, answer),
    };
  }

  get<T = unknown>(path: string) {
    return this.request<T>("GET", path);
  }

  post<T = unknown>(path: string, body: unknown, headers: Record<string, string> = {}) {
    return this.request<T>("POST", path, body, headers);
  }
}
