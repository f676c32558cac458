import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A merchant's notification endpoint: a real HTTP server on 127.0.0.1 that records what it
 * receives and answers as told — `ok` (200), `error` (500), or `hang` (holds the request until
 * `release()` or until the sender gives up).
 */
export interface Received {
  headers: Headers;
  body: string;
  json: { id: string; type: string; created_at: string; data: Record<string, unknown> };
}

export type ReceiverMode = "ok" | "error" | "hang";

export class Receiver {
  mode: ReceiverMode = "ok";
  readonly received: Received[] = [];
  private readonly waiters: { count: number; resolve: () => void }[] = [];
  private readonly held: http.ServerResponse[] = [];

  private readonly server = http.createServer((req, res) => this.handle(req, res));
  private port_ = 0;

  private constructor() {}

  get port(): number {
    return this.port_;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port_}/paycore/notify`;
  }

  static async start(port = 0, mode: ReceiverMode = "ok"): Promise<Receiver> {
    const self = new Receiver();
    self.mode = mode;
    await new Promise<void>((resolve, reject) => {
      self.server.once("error", reject);
      self.server.listen(port, "127.0.0.1", () => resolve());
    });
    self.port_ = (self.server.address() as AddressInfo).port;
    return self;
  }

  /** A URL nothing listens on (connection refused), and the port to listen on later. */
  static async refusedPort(): Promise<number> {
    const r = await Receiver.start();
    await r.close();
    return r.port;
  }

  /** Resolves once `count` requests in all have arrived. */
  async waitFor(count: number): Promise<Received[]> {
    if (this.received.length < count) await new Promise<void>((resolve) => this.waiters.push({ count, resolve }));
    return this.received.slice(0, count);
  }

  /** Requests held by `hang` mode that are still open. */
  get heldCount(): number {
    return this.held.filter((r) => !r.writableEnded && !r.destroyed).length;
  }

  release(status = 200): void {
    for (const res of this.held.splice(0)) if (!res.writableEnded && !res.destroyed) res.writeHead(status).end("ok");
  }

  async close(): Promise<void> {
    this.release(503);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
      this.received.push({ headers, body, json: JSON.parse(body) as Received["json"] });
      for (const w of this.waiters.filter((w) => this.received.length >= w.count)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
      this.answer(res);
    });
  }

  private answer(res: http.ServerResponse): void {
    switch (this.mode) {
      case "ok":
        res.writeHead(200, { "content-type": "text/plain" }).end("success");
        return;
      case "error":
        res.writeHead(500).end("boom");
        return;
      case "hang":
        this.held.push(res);
        return;
    }
  }
}
