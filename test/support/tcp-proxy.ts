import { createServer, connect, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of a server, to take "the network" away from paycore and give it back:
 * - `pass`: bytes flow both ways;
 * - `refuse`: new connections are closed at once (the network is unreachable);
 * - `lose_answers`: requests reach the upstream, but its answers are thrown away and the client's
 *   connection is cut — the dangerous case where the network acted and paycore never heard.
 * Existing connections are cut whenever the mode changes, so keep-alive sockets cannot slip past.
 */
export type ProxyMode = "pass" | "refuse" | "lose_answers";

export interface TcpProxy {
  url: string;
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
}

export async function startTcpProxy(upstream: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = "pass";
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    open.add(client);
    client.on("close", () => open.delete(client));
    client.on("error", () => client.destroy());
    if (mode === "refuse") return void client.destroy();
    const lose = mode === "lose_answers";
    const up = connect(upstream.port, upstream.host);
    open.add(up);
    up.on("close", () => {
      open.delete(up);
      client.destroy();
    });
    up.on("error", () => client.destroy());
    client.on("close", () => up.destroy());
    client.pipe(up);
    if (lose) up.once("data", () => client.destroy());
    else up.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    setMode(next) {
      mode = next;
      for (const s of open) s.destroy();
      open.clear();
    },
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
