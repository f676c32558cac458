/**
 * The sandbox alone (issue 10, docs/performance.md "The sandbox's share"). `npm run bench -- sandbox`:
 * the sandbox as its own process (journal kept, as in the payments bench), paycore's NetsUnion
 * adapter in this process signing, encrypting and verifying as paycore does, 16 clients paying
 * against 32 signed cards, and a receiver answering the notifications. Prints the sandbox's CPU
 * per payment (/proc: utime + stime). Nothing here asserts a speed.
 * BENCH_SECONDS (default 10), BENCH_WARM_UP_SECONDS (2), BENCH_CLIENTS (16), BENCH_SANDBOX_CHANNEL (netsunion,
 * unionpay_nocard); BENCH_CPU_PROF=DIR writes the sandbox's V8 CPU profile into DIR;
 * BENCH_PERF=FILE records the timed window with `perf record -g` (JIT symbols from --perf-basic-prof);
 * BENCH_NODE_FLAGS adds node flags to the sandbox (e.g. "--trace-opt --trace-deopt") and
 * BENCH_SANDBOX_STDOUT=FILE keeps its standard output.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createChannelAdapters, type AgreementChannelId, type Channel, type ChannelAdapter } from "../src/channels/index.ts";
import { systemClock } from "../src/kernel/clock.ts";
import { residentId } from "../test/support/sandbox.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const CARDS = 32;
// BENCH_WARM_UP_SECONDS: a longer warm-up leaves the JIT's tiering out of the timed window.
const WARM_UP_MS = Number(process.env.BENCH_WARM_UP_SECONDS ?? 2) * 1000;
const CHANNEL = (process.env.BENCH_SANDBOX_CHANNEL ?? "netsunion") as AgreementChannelId;

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
}

async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  const port = await listen(probe);
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function signCards(sandbox_url: string, adapter: ChannelAdapter): Promise<string[]> {
  const agreements: string[] = [];
  for (let i = 0; i < CARDS; i++) {
    const body = { holder_name: "压测持卡人", id_number: residentId(700 + i), phone: `1392${String(i).padStart(7, "0")}`, bank_code: i % 2 ? "ICBC" : "CCB", card_type: "debit", balance: 1_000_000_000 };
    const res = await fetch(`${sandbox_url}/sandbox/v1/cards`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (res.status !== 201) throw new Error(`adding a card: ${await res.text()}`);
    const card = (await res.json()) as { card_number: string; holder_name: string; id_number: string; phone: string };
    const sign_txn_id = `bsg${i}x${Date.now().toString(36)}`;
    const applied = await adapter.signApply({ txn_id: sign_txn_id, card: { holder_name: card.holder_name, id_type: "resident_id", id_number: card.id_number, card_number: card.card_number, phone: card.phone } });
    if (applied.status !== "succeeded") throw new Error(`sign apply: ${JSON.stringify(applied)}`);
    const sms = (await (await fetch(`${sandbox_url}/sandbox/v1/sms?phone=${card.phone}`)).json()) as { data: { otp: string | null }[] };
    const confirmed = await adapter.signConfirm({ sign_txn_id, otp: sms.data.at(-1)?.otp ?? "" });
    if (confirmed.status !== "succeeded") throw new Error(`sign confirm: ${JSON.stringify(confirmed)}`);
    agreements.push(confirmed.agreement_no);
  }
  return agreements;
}

/** 16 clients paying until `until_ms`; returns the payments that succeeded. */
async function load(adapter: ChannelAdapter, agreements: string[], until_ms: number, tag: string): Promise<number> {
  let paid = 0;
  let serial = 0;
  const client = async (c: number) => {
    while (Date.now() < until_ms) {
      const txn_id = `b${tag}${c}x${(serial++).toString(36)}`;
      const result = await adapter.pay({ txn_id, order_id: txn_id, agreement_no: agreements[serial % agreements.length]!, amount_fen: 1234n, description: "bench" });
      if (result.status !== "succeeded") throw new Error(`pay: ${JSON.stringify(result, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
      paid += 1;
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  return paid;
}

export async function benchSandbox(): Promise<Record<string, string | number>[]> {
  const data_dir = mkdtempSync(join(tmpdir(), "paycore-bench-sandbox-"));
  let notified = 0;
  const receiver = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      notified += 1;
      response.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  const callback_url = `http://127.0.0.1:${await listen(receiver)}/callbacks`;
  const port = await freePort();
  const prof = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  if (process.env.BENCH_PERF) prof.push("--perf-basic-prof");
  if (process.env.BENCH_NODE_FLAGS) prof.push(...process.env.BENCH_NODE_FLAGS.split(" "));
  const child = spawn(process.execPath, [...prof, "--import", "tsx", "src/sandbox/main.ts"], {
    env: { ...process.env, SANDBOX_PORT: String(port), PAYCORE_DATA_DIR: data_dir, SANDBOX_LOG_LEVEL: "warn", PAYCORE_CALLBACK_URL: callback_url },
    stdio: ["ignore", process.env.BENCH_SANDBOX_STDOUT ? openSync(process.env.BENCH_SANDBOX_STDOUT, "w") : "ignore", "inherit"],
  });
  const sandbox_url = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      if (i > 150) throw new Error("the sandbox did not start");
      if (await fetch(`${sandbox_url}/healthz`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const channel: Channel = {
      channel_id: CHANNEL, kind: "agreement", display_name: CHANNEL, enabled: true, priority: 0, unified_network: true, legacy: false, banks: null,
      endpoint_url: null, timeout_ms: 10_000, keys: {}, version: 1, updated_at: new Date(0), cost_bps: 4, cost_fixed_fen: 0n,
      institution_id: CHANNEL === "netsunion" ? "Z2000000000001" : "898000000000001",
    };
    const adapter = createChannelAdapters([channel], { clock: systemClock, data_dir, sandbox_url }).get(CHANNEL)!;
    const agreements = await signCards(sandbox_url, adapter);
    await load(adapter, agreements, Date.now() + WARM_UP_MS, "w");
    const load_before = loadavg()[0]!;
    const before = { cpu: cpuMs(child.pid!), notified, at: performance.now() };
    const window_start_us = process.hrtime.bigint() / 1000n;
    const perf = process.env.BENCH_PERF ? spawn("perf", ["record", "-g", "-q", "-o", process.env.BENCH_PERF, "-p", String(child.pid)], { stdio: "ignore" }) : null;
    const paid = await load(adapter, agreements, Date.now() + SECONDS * 1000, "t");
    const after = { cpu: cpuMs(child.pid!), notified, at: performance.now() };
    if (perf) await new Promise((resolve) => perf.once("exit", resolve).kill("SIGINT"));
    // The profile's timestamps are the same monotonic clock: a reader can keep the timed window only.
    if (prof.length > 0) console.log(`timed window (monotonic µs): ${window_start_us} ${process.hrtime.bigint() / 1000n}`);
    return [{
      channel: CHANNEL,
      "payments/s": ((paid * 1000) / (after.at - before.at)).toFixed(1),
      "sandbox CPU ms/payment": ((after.cpu - before.cpu) / paid).toFixed(3),
      "notifications/payment": ((after.notified - before.notified) / paid).toFixed(2),
      "load average": `${load_before.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`,
    }];
  } finally {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
    receiver.closeAllConnections();
    receiver.close();
    rmSync(data_dir, { recursive: true, force: true });
  }
}
