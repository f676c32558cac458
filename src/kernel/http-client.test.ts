import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HttpClient, type PostRequest, type ResendPolicy } from "./http-client.ts";

/** How the test server treats a request. */
type Mode = "answer" | "slow" | "drop" | "silent" | "large_declared" | "large_chunked";

interface TestServer {
  url: string;
  mode: Mode;
  connections: number;
  requests: number;
  sockets: Socket[];
  server: Server;
}

/** A real server on 127.0.0.1 that keeps connections alive 60 s (longer than any client here). */
async function startServer(): Promise<TestServer> {
  const state = { mode: "answer" as Mode, connections: 0, requests: 0, sockets: [] as Socket[] } as TestServer;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    state.requests += 1;
    req.resume();
    req.on("end", () => answer(state.mode, req, res));
  });
  server.keepAliveTimeout = 60_000;
  server.on("connection", (socket: Socket) => {
    state.connections += 1;
    state.sockets.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref(); // stops by itself if a test forgets it
  const address = server.address() as { port: number };
  return Object.assign(state, { server, url: `http://127.0.0.1:${address.port}/gateway` });
}

function answer(mode: Mode, req: IncomingMessage, res: ServerResponse): void {
  switch (mode) {
    case "answer":
      return void res.end("SUCCESS");
    case "slow":
      return void setTimeout(() => res.end("LATE"), 300);
    case "drop":
      return void req.socket.destroy();
    case "silent":
      return;
    case "large_declared":
      return void res.end("x".repeat(2048));
    case "large_chunked":
      res.write("x".repeat(1500));
      return void setTimeout(() => res.end("x".repeat(1500)), 20);
  }
}

const servers: TestServer[] = [];
const clients: HttpClient[] = [];

afterEach(() => {
  for (const s of servers.splice(0)) {
    s.server.close();
    s.server.closeAllConnections();
  }
  for (const c of clients.splice(0)) c.close();
});

async function setUp(idle_socket_ms: number): Promise<{ server: TestServer; client: HttpClient; post: (resend: ResendPolicy, more?: Partial<PostRequest>) => ReturnType<HttpClient["post"]> }> {
  const server = await startServer();
  const client = new HttpClient({ sockets_per_origin_max: 4, idle_sockets_per_origin_max: 4, idle_socket_ms });
  servers.push(server);
  clients.push(client);
  const post = (resend: ResendPolicy, more: Partial<PostRequest> = {}) =>
    client.post({ url: server.url, content_type: "text/plain", body: "hello", timeout_ms: 5_000, answer_bytes_max: 1024, resend, ...more });
  return { server, client, post };
}

/** Lets the client put the answered socket back in its pool. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe("HttpClient over a keep-alive socket the server closes", () => {
  // The server closes its idle connections in the same tick as the call starts: the client cannot
  // have seen the close and picks the pooled socket, as in the race with a server's keep-alive timer.
  it("sends a call that is safe to resend again on a new connection, once, and gets the answer", async () => {
    const { server, post } = await setUp(30_000);
    expect(await post("once_on_stale_socket")).toEqual({ kind: "response", status: 200, body: "SUCCESS" });
    await settle();
    server.server.closeIdleConnections();
    const result = await post("once_on_stale_socket");
    expect(result).toEqual({ kind: "response", status: 200, body: "SUCCESS" });
    expect(server.connections).toBe(2);
    expect(server.requests).toBe(2);
  });

  it("never sends a money call twice: the failure is a transport error (the adapters' unknown outcome)", async () => {
    const { server, post } = await setUp(30_000);
    await post("never");
    await settle();
    server.server.closeIdleConnections();
    const result = await post("never");
    expect(result.kind).toBe("transport_error");
    expect(server.requests).toBe(1);
    // The pool was emptied: the next call opens a new connection.
    expect(await post("never")).toEqual({ kind: "response", status: 200, body: "SUCCESS" });
    expect(server.connections).toBe(2);
  });

  it("resends at most once, and never a call that failed on a new connection", async () => {
    const { server, post } = await setUp(30_000);
    await post("once_on_stale_socket");
    await settle();
    server.mode = "drop"; // the server reads each request and closes without an answer
    expect((await post("once_on_stale_socket")).kind).toBe("transport_error");
    expect(server.requests).toBe(3); // the first call, then this one twice: reused socket, new socket
    expect((await post("once_on_stale_socket")).kind).toBe("transport_error");
    expect(server.requests).toBe(4); // on a new socket: not resent
  });
});

describe("HttpClient idle sockets", () => {
  it("closes an idle socket itself, before the server would: a money call at the server's closing instant opens a new connection", async () => {
    const { server, post } = await setUp(200);
    await post("never");
    const [socket] = server.sockets;
    // Closed from the client's side (the server keeps connections 60 s).
    await new Promise((resolve) => socket!.once("close", resolve));
    server.server.closeIdleConnections();
    expect(await post("never")).toEqual({ kind: "response", status: 200, body: "SUCCESS" });
    expect(server.connections).toBe(2);
  });

  it("never cuts off an answer slower than the idle timeout (it only closes sockets in the pool)", async () => {
    const { server, post } = await setUp(100);
    server.mode = "slow";
    expect(await post("never")).toEqual({ kind: "response", status: 200, body: "LATE" });
    expect(await post("never")).toEqual({ kind: "response", status: 200, body: "LATE" }); // on the reused socket
    expect(server.connections).toBe(1);
  });

  it("reuses a socket within the idle timeout", async () => {
    const { server, post } = await setUp(30_000);
    for (let i = 0; i < 5; i++) await post("never");
    expect(server.connections).toBe(1);
    expect(server.requests).toBe(5);
  });
});

describe("HttpClient limits", () => {
  it("gives up at the timeout", async () => {
    const { server, post } = await setUp(30_000);
    server.mode = "silent";
    expect(await post("once_on_stale_socket", { timeout_ms: 100 })).toEqual({ kind: "timeout" });
  });

  it("refuses an answer over the size limit, declared or sent", async () => {
    const { server, post } = await setUp(30_000);
    server.mode = "large_declared";
    expect(await post("never")).toEqual({ kind: "transport_error", message: "answer of 2048 bytes exceeds 1024" });
    server.mode = "large_chunked";
    expect(await post("never")).toEqual({ kind: "transport_error", message: "answer exceeds 1024 bytes" });
    server.mode = "answer";
    expect(await post("never")).toEqual({ kind: "response", status: 200, body: "SUCCESS" });
  });

  it("answers a refused connection with a transport error", async () => {
    const { server, post } = await setUp(30_000);
    await new Promise((resolve) => server.server.close(resolve));
    expect((await post("once_on_stale_socket")).kind).toBe("transport_error");
  });
});
