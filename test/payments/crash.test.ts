import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PaycoreClient } from "../../src/client/index.ts";
import { createLogger } from "../../src/kernel/log.ts";
import { startSandbox, type RunningSandbox } from "../../src/sandbox/index.ts";
import { cliStorage, startCli, type RunningCli } from "../support/cli.ts";
import { cardBody, type SandboxCard } from "./helpers.ts";

type Json = Record<string, unknown>;

/**
 * "The server crashed again": paycore is killed with SIGKILL while a debit is on its way to the
 * network, at several moments, and started again on the same data. Every payment ends final,
 * with exactly one debit at the network (the card's balance tells).
 */
describe("crash safety: kill -9 between the intent and the outcome", () => {
  let storage: Awaited<ReturnType<typeof cliStorage>>;
  let sandbox: RunningSandbox;
  let data_dir: string;
  let paycore: (RunningCli & { banner: string }) | null = null;
  let client: PaycoreClient;
  let card: SandboxCard;
  let agreement_id = "";

  const sandboxJson = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(sandbox.url + path, { method, ...(body ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}) });
    return (await res.json()) as T;
  };
  const balance = async () => (await sandboxJson<{ data: SandboxCard[] }>("GET", "/sandbox/v1/cards")).data.find((c) => c.card_number === card.card_number)!.balance;

  async function boot(): Promise<string> {
    paycore = await startCli({ ...storage.env, PAYCORE_DATA_DIR: data_dir, PORT: "0", SANDBOX_URL: sandbox.url, PAYCORE_LOG_LEVEL: "warn" });
    const url = /API\s+(http:\/\/\S+)/.exec(paycore.banner)![1]!;
    const m = /mch_id=(\S+)\s+key_id=(\S+)\s+secret=(\S+)/.exec(paycore.banner)!;
    client = new PaycoreClient(url, { mch_id: m[1]!, key_id: m[2]!, secret: m[3]! });
    return url;
  }

  /** Waits until the running paycore shows the payment (its intent is committed). */
  async function recorded(out_trade_no: string): Promise<void> {
    for (let tries = 0; tries < 1_500; tries++) {
      const list = await client.get<{ data: Json[] }>(`/v1/payments?out_trade_no=${out_trade_no}`);
      if (list.body.data.length > 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`${out_trade_no} was never recorded`);
  }

  beforeAll(async () => {
    storage = await cliStorage();
    data_dir = storage.env.PAYCORE_DATA_DIR!;
    sandbox = await startSandbox({ port: 0, data_dir, seed: 11, log: createLogger("silent") });
    await boot();
    const cards = (await sandboxJson<{ data: SandboxCard[] }>("GET", "/sandbox/v1/cards")).data;
    card = cards.find((c) => c.unified && c.card_type === "debit" && c.status === "normal" && c.balance >= 100_000)!;
    const start = await client.post<Json>("/v1/agreements", { out_request_no: "crash-sign", user_ref: "u", card: cardBody(card) });
    const sms = await sandboxJson<{ data: { otp: string }[] }>("GET", `/sandbox/v1/sms?phone=${card.phone}`);
    const confirm = await client.post<Json>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp: sms.data.at(-1)!.otp });
    expect(confirm.status).toBe(201);
    agreement_id = confirm.body.agreement_id as string;
  }, 120_000);

  afterAll(async () => {
    await paycore?.stop("SIGKILL");
    await sandbox?.close();
    await storage?.cleanup();
  });

  it("every payment cut off by SIGKILL ends final after a restart, with exactly one debit", async () => {
    // The network takes 1.5 s to answer a debit, so the kill lands while the call is in flight
    // (or, for the shortest delay, before paycore has even sent it).
    await sandboxJson("POST", "/sandbox/v1/faults", { channel: "*", operation: "pay", kind: "latency", rate: 1, latency_ms: 1_500, seed: 1 });
    const amounts = [101, 202, 303];
    // The first kill lands 5 ms after the request (before or around the intent); the others once
    // the intent is recorded (read through the API while it runs, so a slow machine cannot make
    // every kill land before anything was recorded): at once, and 800 ms into the network's 1.5 s.
    const kill_after_intent_ms = [null, 0, 800];
    const before = await balance();
    for (let i = 0; i < amounts.length; i++) {
      const pending = client.post<Json>("/v1/payments", { out_trade_no: `crash-${i}`, agreement_id, amount: amounts[i], currency: "CNY", description: "crash" }).catch(() => null);
      const after_intent = kill_after_intent_ms[i];
      if (after_intent === null || after_intent === undefined) await new Promise((r) => setTimeout(r, 5));
      else {
        await recorded(`crash-${i}`);
        await new Promise((r) => setTimeout(r, after_intent));
      }
      await paycore!.stop("SIGKILL");
      await pending;
      await boot();
    }
    await sandboxJson("DELETE", "/sandbox/v1/faults");
    let debited = 0;
    for (let i = 0; i < amounts.length; i++) {
      let status = "";
      for (let tries = 0; tries < 240; tries++) {
        const list = await client.get<{ data: Json[] }>(`/v1/payments?out_trade_no=crash-${i}`);
        status = list.body.data.length === 0 ? "never recorded" : (list.body.data[0]!.status as string);
        if (status !== "processing") break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(["succeeded", "failed", "never recorded"], `payment ${i}`).toContain(status);
      if (status === "succeeded") debited += amounts[i]!;
    }
    expect(await balance()).toBe(before - debited);
    expect(debited).toBeGreaterThan(0);
  }, 240_000);
});
