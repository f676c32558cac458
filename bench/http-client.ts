/**
 * Client CPU per message of paycore's HTTP POST client (src/kernel/http-client.ts) and of the
 * network key lookup every message makes (src/channels/keys.ts NetworkKeys). The server runs in a
 * child process, so process.cpuUsage here is the client's alone. `npm run bench -- http`, or
 * `node --import tsx bench/http-client.ts`; BENCH_SECONDS (default 5) per row, BENCH_HTTP_CONCURRENCY
 * (default 8) calls in flight. Prints a table; asserts nothing. The machine is shared: compare CPU
 * figures, and note the load average printed with them.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { NetworkKeys } from "../src/channels/keys.ts";
import { loadOrCreateNetworkKeys } from "../src/sandbox/keys.ts";
import { networkPost, postText } from "../src/channels/http.ts";
import { postToPaycore } from "../src/sandbox/http-client.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_HTTP_CONCURRENCY ?? 8);
const KEY_LOOKUPS = 200_000;
const BODY = `<Document>${"x".repeat(1500)}</Document>`; // about a signed network message

/** A keep-alive server answering every POST with a short body, in a process of its own. */
const SERVER = `
const http = require("node:http");
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => res.end("SUCCESS ${"y".repeat(600)}"));
});
server.keepAliveTimeout = 72_000;
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.stdin.on("end", () => process.exit(0)).resume();
`;

function cpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

async function startServer(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ["-e", SERVER], { stdio: ["pipe", "pipe", "inherit"] });
  const port = await new Promise<string>((resolve) => child.stdout.once("data", (d: Buffer) => resolve(d.toString().trim())));
  return { url: `http://127.0.0.1:${port}/gateway`, stop: () => child.stdin.end() };
}

async function measure(name: string, post: () => Promise<unknown>): Promise<Record<string, string | number>> {
  for (let i = 0; i < 2000; i++) await post(); // JIT, sockets
  const started_cpu = cpuUs();
  const started_ms = performance.now();
  const until = started_ms + SECONDS * 1000;
  let messages = 0;
  const worker = async () => {
    while (performance.now() < until) {
      await post();
      messages += 1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const cpu_us = cpuUs() - started_cpu;
  const wall_ms = performance.now() - started_ms;
  return { row: name, messages, per_s: Math.round((messages * 1000) / wall_ms), client_cpu_us_per_msg: Number((cpu_us / messages).toFixed(1)), load1: loadavg()[0]!.toFixed(2) };
}

function keyLookups(): Record<string, string | number> {
  const dir = mkdtempSync(join(tmpdir(), "paycore-bench-keys-"));
  try {
    loadOrCreateNetworkKeys(dir, new Date());
    const keys = new NetworkKeys(dir);
    const key_id = keys.netsunion()!.key_id;
    for (let i = 0; i < 1000; i++) keys.netsunion();
    const started_cpu = cpuUs();
    for (let i = 0; i < KEY_LOOKUPS; i++) if (keys.netsunion()?.key_id !== key_id) throw new Error("key changed");
    return { row: "NetworkKeys.netsunion()", messages: KEY_LOOKUPS, per_s: "", client_cpu_us_per_msg: Number(((cpuUs() - started_cpu) / KEY_LOOKUPS).toFixed(2)), load1: loadavg()[0]!.toFixed(2) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchHttpClient(): Promise<Record<string, string | number>[]> {
  const server = await startServer();
  const transport = { fetch: networkPost, timeout_ms: 10_000 };
  try {
    const rows = [
      await measure("channels postText, money call", () => postText(transport, server.url, "application/xml", BODY, "never")),
      await measure("channels postText, status query", () => postText(transport, server.url, "application/xml", BODY, "once_on_stale_socket")),
      await measure("sandbox postToPaycore", () => postToPaycore(server.url, "application/xml", BODY, 5_000)),
    ];
    rows.push(keyLookups());
    return rows;
  } finally {
    server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.table(await benchHttpClient());
  process.exit(0);
}
