import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { postToPaycore } from "../../src/sandbox/http-client.ts";

/**
 * The sandbox's own HTTP client to paycore (src/sandbox/http-client.ts), against real servers:
 * node:http answering by length, in chunks and with no body, and raw sockets for what node:http
 * would not do (an answer read to the close, a kept connection dropped under a request).
 */
const servers: (HttpServer | NetServer)[] = [];
const connections = new Set<Socket>();
afterAll(async () => {
  for (const socket of connections) socket.destroy();
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
});

async function listen(server: HttpServer | NetServer): Promise<string> {
  servers.push(server);
  server.on("connection", (socket: Socket) => {
    connections.add(socket);
    socket.once("close", () => connections.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("the sandbox's client to paycore", () => {
  it("posts the message, reads answers by length, in chunks, with no body, and reuses the connection", async () => {
    const seen: { url: string; type: string; body: string; port: number }[] = [];
    const base = await listen(
      createHttpServer((request, response) => {
        let body = "";
        request.setEncoding("utf8");
        request.on("data", (chunk: string) => (body += chunk));
        request.on("end", () => {
          seen.push({ url: request.url ?? "", type: request.headers["content-type"] ?? "", body, port: request.socket.remotePort ?? 0 });
          if (request.url === "/chunked") {
            response.writeHead(200, { "content-type": "text/plain" });
            response.write("成功");
            setTimeout(() => response.end("-done"), 5);
          } else if (request.url === "/empty") response.writeHead(204).end();
          else if (request.url === "/refused") response.writeHead(500, { "content-type": "text/plain" }).end("no");
          else response.writeHead(200, { "content-type": "text/plain", "content-length": "2" }).end("ok");
        });
      }),
    );
    const message = "<root>通知</root>".repeat(50);
    expect(await postToPaycore(`${base}/callbacks/netsunion`, "application/xml; charset=utf-8", message, 2_000)).toEqual({ kind: "response", status: 200, body: "ok" });
    expect(await postToPaycore(`${base}/chunked`, "text/plain", "x", 2_000)).toEqual({ kind: "response", status: 200, body: "成功-done" });
    expect(await postToPaycore(`${base}/empty`, "text/plain", "x", 2_000)).toEqual({ kind: "response", status: 204, body: "" });
    expect(await postToPaycore(`${base}/refused`, "text/plain", "x", 2_000)).toEqual({ kind: "response", status: 500, body: "no" });
    expect(seen[0]).toEqual({ url: "/callbacks/netsunion", type: "application/xml; charset=utf-8", body: message, port: seen[0]!.port });
    expect(new Set(seen.map((s) => s.port)).size).toBe(1); // one kept connection, sequential messages
    // A kept connection reused many times gathers no listeners (it did one per reuse: Node warned at 11).
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    for (let i = 0; i < 30; i++) await postToPaycore(`${base}/again`, "text/plain", "x", 2_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    process.off("warning", onWarning);
    expect(warnings).toEqual([]);
    expect(new Set(seen.map((s) => s.port)).size).toBe(1);
    const parallel = await Promise.all(Array.from({ length: 8 }, (_, i) => postToPaycore(`${base}/p${i}`, "text/plain", `m${i}`, 2_000)));
    expect(parallel.every((r) => r.kind === "response" && r.status === 200)).toBe(true);
  });

  it("reads an answer to the close, and sends a message again once when a kept connection drops under it", async () => {
    let requests = 0;
    const base = await listen(
      createNetServer((socket: Socket) => {
        let on_this_socket = 0;
        socket.on("data", (data) => {
          if (!data.includes("\r\n\r\n")) return;
          requests += 1;
          on_this_socket += 1;
          if (data.includes("POST /close ")) return void socket.end("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the close");
          // The second message on a kept connection finds it closing: no byte of an answer.
          if (on_this_socket === 2) return void socket.destroy();
          socket.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nsent");
        });
      }),
    );
    expect(await postToPaycore(`${base}/close`, "text/plain", "a", 2_000)).toEqual({ kind: "response", status: 200, body: "to the close" });
    requests = 0;
    expect(await postToPaycore(`${base}/first`, "text/plain", "b", 2_000)).toEqual({ kind: "response", status: 200, body: "sent" });
    expect(await postToPaycore(`${base}/second`, "text/plain", "c", 2_000)).toEqual({ kind: "response", status: 200, body: "sent" });
    expect(requests).toBe(3); // the second message twice: dropped, then on a new connection
  });

  it("reports no answer in time, a refused connection, and an answer too large, as results", async () => {
    const silent = await listen(createNetServer(() => {}));
    expect(await postToPaycore(`${silent}/x`, "text/plain", "a", 100)).toEqual({ kind: "timeout" });
    const closed = createNetServer();
    const refused_url = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    servers.splice(servers.indexOf(closed), 1);
    expect((await postToPaycore(`${refused_url}/x`, "text/plain", "a", 1_000)).kind).toBe("transport_error");
    const huge = await listen(createHttpServer((_request, response) => response.writeHead(200, { "content-length": String(1024 * 1024) }).end("x".repeat(1024 * 1024))));
    expect(await postToPaycore(`${huge}/x`, "text/plain", "a", 2_000)).toMatchObject({ kind: "transport_error", message: expect.stringMatching(/exceeds/) });
  });
});
