import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PaycoreClient } from "../../src/client/index.ts";
import { createLogger } from "../../src/kernel/log.ts";
import { startSandbox, type RunningSandbox } from "../../src/sandbox/index.ts";
import { cliStorage, startCli, type RunningCli } from "../support/cli.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.ts";
import { cardBody, type SandboxCard } from "../payments/helpers.ts";
import { paymentBody, paymentLoad, sleep } from "./load.ts";

type Json = Record<string, unknown> & { error?: { code: string } };

/**
 * The networks disappear under a payment load: first the worst case (debits reach the network and
 * are charged, but every answer is lost on the way back), then the network refusing connections
 * altogether. Payments stay `processing` while paycore cannot know, and end final once the network
 * is back; nothing the network charged is marked failed, and every card debit is one succeeded
 * payment.
 */
describe("the networks disappear under load and come back", () => {
  let storage: Awaited<ReturnType<typeof cliStorage>>;
  let sandbox: RunningSandbox;
  let proxy: TcpProxy;
  let paycore: (RunningCli & { banner: string }) | null = null;
  let client: PaycoreClient;
  let card: SandboxCard;
  let agreement_id = "";

  const sandboxJson = async <T>(method: string, path: string): Promise<T> => (await (await fetch(sandbox.url + path, { method })).json()) as T;
  const balance = async () => (await sandboxJson<{ data: SandboxCard[] }>("GET", "/sandbox/v1/cards")).data.find((c) => c.card_number === card.card_number)!.balance;

  beforeAll(async () => {
    storage = await cliStorage();
    sandbox = await startSandbox({ port: 0, data_dir: storage.env.PAYCORE_DATA_DIR!, seed: 41, log: createLogger("silent") });
    const upstream = new URL(sandbox.url);
    proxy = await startTcpProxy({ host: upstream.hostname, port: Number(upstream.port) });
    paycore = await startCli({ ...storage.env, PORT: "0", SANDBOX_URL: proxy.url, PAYCORE_LOG_LEVEL: "error" });
    const url = /API\s+(http:\/\/\S+)/.exec(paycore.banner)![1]!;
    const m = /mch_id=(\S+)\s+key_id=(\S+)\s+secret=(\S+)/.exec(paycore.banner)!;
    client = new PaycoreClient(url, { mch_id: m[1]!, key_id: m[2]!, secret: m[3]! });
    const cards = (await sandboxJson<{ data: SandboxCard[] }>("GET", "/sandbox/v1/cards")).data;
    card = cards.find((x) => x.card_type === "debit" && x.status === "normal" && x.balance >= 1_000_000)!;
    const start = await client.post<Json>("/v1/agreements", { out_request_no: "net-outage-sign", user_ref: "u", card: cardBody(card) });
    const sms = await sandboxJson<{ data: { otp: string }[] }>("GET", `/sandbox/v1/sms?phone=${card.phone}`);
    const confirm = await client.post<Json>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp: sms.data.at(-1)!.otp });
    expect(confirm.status).toBe(201);
    agreement_id = confirm.body.agreement_id as string;
  }, 120_000);

  afterAll(async () => {
    if (paycore && paycore.child.exitCode !== null) console.error(`paycore exited (${paycore.child.exitCode}):\n${paycore.output().slice(-4_000)}`);
    await paycore?.stop("SIGKILL");
    await proxy?.close();
    await sandbox?.close();
    await storage?.cleanup();
  });

  it("answers lost on the way back, then connections refused: processing while unknown, final after, one debit each", async () => {
    const before = await balance();
    let release!: () => void;
    const until = new Promise<void>((r) => (release = r));
    const load = paymentLoad({ client, agreement_id, workers: 4, prefix: "net", attempts_max: 300, until });
    await sleep(1_000);
    proxy.setMode("lose_answers");
    await sleep(2_500);
    proxy.setMode("refuse");
    await sleep(2_500);
    proxy.setMode("pass");
    await sleep(1_000);
    release();
    const attempts = await load;
    for (const a of attempts) {
      // channel_unavailable: every route is marked unhealthy, so nothing was recorded or sent.
      expect([200, 201, 503], `${a.out_trade_no}: ${a.http_status} ${a.code}`).toContain(a.http_status);
      if (a.http_status === 503) expect(a.code).toBe("channel_unavailable");
      else expect(["processing", "succeeded", "failed"]).toContain(a.payment_status);
    }
    // Whether an answer was lost depends on timing (the network's own notification may win): what must
    // hold is below — every payment final and every debit a succeeded payment, once.

    let charged = 0;
    for (const a of attempts) {
      let status = "";
      for (let tries = 0; tries < 240; tries++) {
        const res = await client.post<Json>("/v1/payments", paymentBody(agreement_id, a.out_trade_no, a.amount));
        expect([200, 201, 503], res.text).toContain(res.status);
        status = res.status === 503 ? "processing" : (res.body.status as string);
        if (status !== "processing") break;
        await sleep(250);
      }
      expect(["succeeded", "failed"], `${a.out_trade_no} ends final`).toContain(status);
      if (status === "succeeded") charged += a.amount;
    }
    expect(before - (await balance()), "every debit the network made is a succeeded payment, and only once").toBe(charged);
    expect(paycore!.child.exitCode).toBeNull();
  }, 240_000);
});
