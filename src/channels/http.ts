import { CHANNEL_LIMITS } from "./support.ts";

/** The part of `fetch` the adapters use: injectable, so a caller can route or instrument it. */
export type FetchLike = (
  url: string,
  init: { method: "POST"; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<{ status: number; headers: { get(name: string): string | null }; text(): Promise<string> }>;

export type PostResult =
  | { kind: "response"; status: number; body: string }
  | { kind: "timeout" }
  | { kind: "transport_error"; message: string };

export interface Transport {
  fetch: FetchLike;
  timeout_ms: number;
}

/** POSTs text and reads the answer; never throws: a timeout and a transport failure are results. */
export async function postText(transport: Transport, url: string, content_type: string, body: string, bytes_max: number = CHANNEL_LIMITS.response_bytes_max): Promise<PostResult> {
  const signal = AbortSignal.timeout(transport.timeout_ms);
  try {
    const response = await transport.fetch(url, { method: "POST", headers: { "content-type": content_type }, body, signal });
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > bytes_max) return { kind: "transport_error", message: `answer of ${declared} bytes exceeds ${bytes_max}` };
    const text = await response.text();
    if (Buffer.byteLength(text) > bytes_max) return { kind: "transport_error", message: `answer exceeds ${bytes_max} bytes` };
    return { kind: "response", status: response.status, body: text };
  } catch (error) {
    if (signal.aborted) return { kind: "timeout" };
    return { kind: "transport_error", message: error instanceof Error ? error.message : String(error) };
  }
}
