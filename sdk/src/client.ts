import { randomBytes, randomUUID } from "node:crypto";
import type { paths } from "./generated/openapi.ts";
import { PaycoreApiError, PaycoreNetworkError, PaycoreSignatureError } from "./errors.ts";
import { backoffDelayMs, checkRetryPolicy, DEFAULT_RETRY, sleep, type RetryPolicy } from "./retry.ts";
import { authorizationHeader, verifyAnswerSignature, type Credentials } from "./signing.ts";

type Method = "get" | "post";
type Op<P extends keyof paths, M extends Method> = paths[P][M];
type JsonOf<R> = R extends { content: { "application/json": infer B } } ? B : never;
/** The JSON answer of an operation (its 200 or 201 response), from the generated types. */
export type AnswerOf<P extends keyof paths, M extends Method> = Op<P, M> extends { responses: infer R } ? JsonOf<R[200 & keyof R]> | JsonOf<R[201 & keyof R]> : never;
/** The JSON body an operation takes. */
export type BodyOf<P extends keyof paths, M extends Method> = Op<P, M> extends { requestBody: { content: { "application/json": infer B } } } ? B : never;
/** The query parameters an operation takes. */
export type QueryOf<P extends keyof paths, M extends Method> = Op<P, M> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

export type Payment = AnswerOf<"/v1/payments/{payment_id}", "get">;
export type Refund = AnswerOf<"/v1/refunds/{refund_id}", "get">;
export type Agreement = AnswerOf<"/v1/agreements/{agreement_id}", "get">;
export type Balance = AnswerOf<"/v1/balance", "get">;

export interface ClientOptions extends Credentials {
  /** paycore's base URL, e.g. https://api.example-pay.cn */
  base_url: string;
  retry?: Partial<RetryPolicy>;
  /** Bound on one try (connect, send, answer); default 30 s. */
  timeout_ms?: number;
  /** Unix seconds; inject for tests. */
  now_s?: () => number;
  /** Verify Paycore-Signature on answers (default true; only turn off to debug). */
  verify_answers?: boolean;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined> | undefined;
  body?: unknown;
  /** POST only: the same key on every retry (generated when not given, so retries are safe). */
  idempotency_key?: string | undefined;
}

export interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
  request_id: string | null;
  /** The first answer repeated for an Idempotency-Key already used. */
  replayed: boolean;
}

/** Pages a list follows at most in one `paginate` walk, unless told otherwise. */
export const PAGES_MAX_DEFAULT = 1_000;
const TIMEOUT_MS_DEFAULT = 30_000;

function pathWithQuery(path: string, query: RequestOptions["query"]): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) q.set(k, String(v));
  const text = q.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * The paycore merchant Open API client. Every request is signed (docs/merchant-api.md, "The
 * signature"), every signed answer is verified before it is trusted, POSTs carry an
 * Idempotency-Key, and a try that got no answer or a 5xx is retried with backoff — never a 4xx.
 */
export class PaycoreClient {
  private readonly creds: Credentials;
  private readonly retry: RetryPolicy;
  private readonly base_url: string;

  constructor(private readonly options: ClientOptions) {
    this.creds = { mch_id: options.mch_id, key_id: options.key_id, secret: options.secret };
    this.retry = checkRetryPolicy({ ...DEFAULT_RETRY, ...options.retry });
    this.base_url = options.base_url.replace(/\/+$/, "");
  }

  /** Any Open API call; throws PaycoreApiError for an error answer. */
  async request<T>(method: "GET" | "POST", path: string, options: RequestOptions = {}): Promise<Answer<T>> {
    const target = pathWithQuery(path, options.query);
    const body = options.body === undefined ? "" : JSON.stringify(options.body);
    const idempotency_key = method === "POST" ? (options.idempotency_key ?? randomUUID()) : undefined;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.send(method, target, body, idempotency_key);
      } catch (err) {
        if (attempt >= this.retry.attempts_max) throw new PaycoreNetworkError(`${method} ${target}: no answer after ${attempt} tries (${(err as Error).message})`, err);
        await sleep(backoffDelayMs(this.retry, attempt));
        continue;
      }
      const text = await res.text();
      if (res.status >= 500 && attempt < this.retry.attempts_max) {
        await sleep(backoffDelayMs(this.retry, attempt));
        continue;
      }
      return this.answer<T>(res, text);
    }
  }

  private async send(method: string, target: string, body: string, idempotency_key: string | undefined): Promise<Response> {
    const now_s = this.options.now_s?.() ?? Math.floor(Date.now() / 1000);
    const nonce = randomBytes(16).toString("hex");
    const headers: Record<string, string> = { authorization: authorizationHeader(this.creds, method, target, body, now_s, nonce), accept: "application/json" };
    if (body) headers["content-type"] = "application/json";
    if (idempotency_key) headers["idempotency-key"] = idempotency_key;
    return fetch(this.base_url + target, {
      method,
      headers,
      ...(body ? { body } : {}),
      signal: AbortSignal.timeout(this.options.timeout_ms ?? TIMEOUT_MS_DEFAULT),
    });
  }

  private answer<T>(res: Response, text: string): Answer<T> {
    const signature = res.headers.get("paycore-signature");
    // Answers to an authenticated request are signed; an error before authentication
    // (invalid_signature, replayed_request) cannot be, and is reported as it is.
    if (this.options.verify_answers !== false && (signature || res.status < 400)) {
      const timestamp = res.headers.get("paycore-timestamp") ?? "";
      const nonce = res.headers.get("paycore-nonce") ?? "";
      if (!signature || !verifyAnswerSignature(this.creds.secret, timestamp, nonce, text, signature)) {
        throw new PaycoreSignatureError(`answer ${res.status} to ${res.url}: Paycore-Signature missing or wrong; do not trust it`);
      }
    }
    const json = res.headers.get("content-type")?.includes("json") && text ? (JSON.parse(text) as unknown) : text;
    const request_id = res.headers.get("paycore-request-id");
    if (res.status >= 400) {
      const e = (json as { error?: { code?: string; message?: string; field?: string } }).error ?? {};
      throw new PaycoreApiError(res.status, e.code ?? "unknown", e.message ?? text.slice(0, 200), request_id, e.field ?? null);
    }
    return { status: res.status, body: json as T, headers: res.headers, request_id, replayed: res.headers.get("idempotent-replayed") === "true" };
  }

  /** Every item of a list, page after page along `next_cursor` (at most `pages_max` pages). */
  async *paginate<T>(path: string, query: Record<string, string | number | undefined> = {}, pages_max = PAGES_MAX_DEFAULT): AsyncGenerator<T> {
    let cursor: string | null = null;
    for (let page = 0; page < pages_max; page++) {
      const res: Answer<{ data: T[]; next_cursor: string | null }> = await this.request("GET", path, { query: { ...query, ...(cursor ? { cursor } : {}) } });
      yield* res.body.data;
      cursor = res.body.next_cursor;
      if (!cursor) return;
    }
    throw new RangeError(`${path}: more than ${pages_max} pages; narrow the filter or raise pages_max`);
  }

  private async get<P extends keyof paths>(path: string, query?: RequestOptions["query"]): Promise<AnswerOf<P, "get">> {
    return (await this.request<AnswerOf<P, "get">>("GET", path, { query })).body;
  }

  private async post<P extends keyof paths>(path: string, body: unknown, idempotency_key?: string): Promise<AnswerOf<P, "post">> {
    return (await this.request<AnswerOf<P, "post">>("POST", path, { body, idempotency_key })).body;
  }

  readonly agreements = {
    /** Starts signing: `otp_sent` (the bank texted the cardholder) or `already_signed`. */
    create: (body: BodyOf<"/v1/agreements", "post">, idempotency_key?: string) => this.post<"/v1/agreements">("/v1/agreements", body, idempotency_key),
    confirm: (body: BodyOf<"/v1/agreements/confirm", "post">) => this.post<"/v1/agreements/confirm">("/v1/agreements/confirm", body),
    resendOtp: (body: BodyOf<"/v1/agreements/resend-otp", "post">) => this.post<"/v1/agreements/resend-otp">("/v1/agreements/resend-otp", body),
    get: (agreement_id: string) => this.get<"/v1/agreements/{agreement_id}">(`/v1/agreements/${encodeURIComponent(agreement_id)}`),
    list: (query: QueryOf<"/v1/agreements", "get">) => this.get<"/v1/agreements">("/v1/agreements", query),
    unbind: (agreement_id: string) => this.post<"/v1/agreements/{agreement_id}/unbind">(`/v1/agreements/${encodeURIComponent(agreement_id)}/unbind`, undefined),
    signAndPay: (body: BodyOf<"/v1/sign-and-pay", "post">) => this.post<"/v1/sign-and-pay">("/v1/sign-and-pay", body),
    signAndPayConfirm: (body: BodyOf<"/v1/sign-and-pay/confirm", "post">) => this.post<"/v1/sign-and-pay/confirm">("/v1/sign-and-pay/confirm", body),
  };

  readonly payments = {
    /** `processing` means the outcome is not known yet: it becomes final by itself, and a notification follows. */
    create: (body: BodyOf<"/v1/payments", "post">, idempotency_key?: string) => this.post<"/v1/payments">("/v1/payments", body, idempotency_key),
    get: (payment_id: string) => this.get<"/v1/payments/{payment_id}">(`/v1/payments/${encodeURIComponent(payment_id)}`),
    list: (query: QueryOf<"/v1/payments", "get"> = {}) => this.get<"/v1/payments">("/v1/payments", query),
    /** Every payment matching the filter, newest first, across pages. */
    all: (query: Omit<QueryOf<"/v1/payments", "get">, "cursor"> = {}) => this.paginate<Payment>("/v1/payments", query),
    refund: (payment_id: string, body: BodyOf<"/v1/payments/{payment_id}/refunds", "post">, idempotency_key?: string) =>
      this.post<"/v1/payments/{payment_id}/refunds">(`/v1/payments/${encodeURIComponent(payment_id)}/refunds`, body, idempotency_key),
  };

  readonly refunds = {
    get: (refund_id: string) => this.get<"/v1/refunds/{refund_id}">(`/v1/refunds/${encodeURIComponent(refund_id)}`),
  };

  readonly balance = {
    get: () => this.get<"/v1/balance">("/v1/balance"),
  };

  readonly settlements = {
    list: (query: QueryOf<"/v1/settlements", "get">) => this.get<"/v1/settlements">("/v1/settlements", query),
    /** The day's statement as CSV text. */
    statement: async (date: string) => (await this.request<string>("GET", "/v1/statements", { query: { date } })).body,
  };

  readonly campaigns = {
    create: (body: BodyOf<"/v1/agreement-campaigns", "post">, idempotency_key?: string) => this.post<"/v1/agreement-campaigns">("/v1/agreement-campaigns", body, idempotency_key),
    get: (campaign_id: string) => this.get<"/v1/agreement-campaigns/{campaign_id}">(`/v1/agreement-campaigns/${encodeURIComponent(campaign_id)}`),
  };

  readonly events = {
    get: (event_id: string) => this.get<"/v1/events/{event_id}">(`/v1/events/${encodeURIComponent(event_id)}`),
  };
}
