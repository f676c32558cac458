import { HttpClient, type HttpPost, type PostResult, type ResendPolicy } from "../kernel/http-client.ts";
import { CHANNEL_LIMITS } from "./support.ts";

export type { PostResult, ResendPolicy };

/**
 * The networks' transport, injectable so a caller can route or instrument it. Named for what it
 * once was (a part of `fetch`); it is the kernel client's `post` (src/kernel/http-client.ts).
 */
export type FetchLike = HttpPost;

export interface Transport {
  fetch: FetchLike;
  timeout_ms: number;
}

/**
 * paycore's connections to the networks: idle sockets closed after CHANNEL_LIMITS.idle_socket_ms,
 * below the networks' keep-alive timeout, so that a debit never goes out on a socket the network
 * has just closed (a debit is never sent twice: that failure would be an unknown outcome).
 */
const channel_http = new HttpClient({
  sockets_per_origin_max: CHANNEL_LIMITS.sockets_per_origin_max,
  idle_sockets_per_origin_max: CHANNEL_LIMITS.idle_sockets_per_origin_max,
  idle_socket_ms: CHANNEL_LIMITS.idle_socket_ms,
});

/** POSTs to a network (the agreement networks, the CNAPS rails' front end): the default transport. */
export const networkPost: HttpPost = channel_http.post;

/**
 * POSTs a message to a network; never throws: a timeout and a transport failure are results (the
 * adapters make them `pending`). `resend`: see src/kernel/http-client.ts; only calls that change
 * nothing at the network (status queries, statement requests) may be sent twice.
 */
export function postText(
  transport: Transport,
  url: string,
  content_type: string,
  body: string,
  resend: ResendPolicy,
  bytes_max: number = CHANNEL_LIMITS.response_bytes_max,
): Promise<PostResult> {
  return transport.fetch({ url, content_type, body, timeout_ms: transport.timeout_ms, answer_bytes_max: bytes_max, resend });
}
