import { HttpClient, type PostResult } from "../kernel/http-client.ts";
import { SANDBOX_LIMITS } from "./limits.ts";

/**
 * The sandbox's connections to paycore (network notifications, CNAPS pushes), on the kernel's
 * client (src/kernel/http-client.ts): idle sockets closed after `notify_idle_socket_ms`, below
 * paycore's keep-alive timeout (Fastify's 72 s). Every message here is at-least-once (paycore
 * deduplicates on message ids), so one that failed on a stale reused socket is sent again at once.
 */
const paycore_http = new HttpClient({
  sockets_per_origin_max: SANDBOX_LIMITS.notify_sockets_max,
  idle_sockets_per_origin_max: SANDBOX_LIMITS.notify_sockets_max,
  idle_socket_ms: SANDBOX_LIMITS.notify_idle_socket_ms,
});

/** POSTs a message to paycore; a 2xx answer means delivered. Never throws. */
export function postToPaycore(url: string, content_type: string, body: string, timeout_ms: number): Promise<PostResult> {
  return paycore_http.post({ url, content_type, body, timeout_ms, answer_bytes_max: SANDBOX_LIMITS.notify_answer_bytes_max, resend: "once_on_stale_socket" });
}

/** Why a delivery failed, for the delivery log; null when paycore answered 2xx. */
export function deliveryError(result: PostResult): string | null {
  switch (result.kind) {
    case "response":
      return result.status >= 200 && result.status < 300 ? null : `HTTP ${result.status}`;
    case "timeout":
      return "no answer in time";
    case "transport_error":
      return result.message;
  }
}
