import { connect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { SHUTDOWN_GRACE_MS } from "../../src/platform.ts";
import { startTestApp } from "../support/app.ts";

/**
 * Stopping paycore must not wait on a client that never finishes its request: Node keeps a
 * connection that began a request until the request timeout (60 s by default), and closing the
 * server waits for it. In-flight requests get a short grace, then every connection is closed.
 */
describe("server shutdown", () => {
  it("closes after its grace while a client holds a half-sent request (Node alone would wait for the 60 s request timeout)", async () => {
    const app = await startTestApp({ label: "shutdown" });
    const { port, hostname } = new URL(app.url);
    const socket: Socket = connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"); // headers never end
    const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    const started = performance.now();
    await app.close();
    const took_ms = performance.now() - started;
    await ended;
    // The grace (10 s) plus the rest of the shutdown; not the request timeout (60 s).
    expect(took_ms).toBeLessThan(SHUTDOWN_GRACE_MS + 20_000);
    expect(took_ms).toBeGreaterThanOrEqual(SHUTDOWN_GRACE_MS - 100); // the grace was given
  }, 50_000);
});
