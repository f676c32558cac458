import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { cliStorage, readBanner, startCli, type RunningCli } from "../support/cli.ts";
import { runCommand } from "../support/run.ts";
import { cardBody, type SandboxCard } from "../payments/helpers.ts";

type Json = Record<string, unknown>;
const ROOT = join(import.meta.dirname, "..", "..");

/** A port that is free now (non-default, as a user who moved paycore off 3000/3100 would have). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The README's walk across restarts with the embedded sandbox: sign, pay, stop (once by
 * SIGKILL, once cleanly), start, pay again on the same agreement and refund the earlier payment.
 * Real networks keep their agreements; so does the sandbox, in the data directory.
 */
describe("the sandbox's world survives a restart of paycore start", () => {
  let storage: Awaited<ReturnType<typeof cliStorage>>;
  let paycore: (RunningCli & { banner: string }) | null = null;
  let client: PaycoreClient;
  let sandbox_url = "";
  let ports = { PORT: "0", SANDBOX_PORT: "0" };
  const env = () => ({ ...storage.env, ...ports, PAYCORE_LOG_LEVEL: "warn" });

  async function boot(): Promise<void> {
    paycore = await startCli(env());
    ({ sandbox_url, client } = readBanner(paycore.banner));
  }
  const cards = async () => ((await (await fetch(`${sandbox_url}/sandbox/v1/cards`)).json()) as { data: SandboxCard[] }).data;
  const pay = (out_trade_no: string, agreement_id: string, amount: number) =>
    client.post<Json>("/v1/payments", { out_trade_no, agreement_id, amount, currency: "CNY", description: "walk" });

  beforeAll(async () => {
    storage = await cliStorage();
    ports = { PORT: String(await freePort()), SANDBOX_PORT: String(await freePort()) };
  });
  afterAll(async () => {
    await paycore?.stop("SIGKILL");
    await storage?.cleanup();
  });

  it("pays and refunds on an agreement signed before a crash and before a clean restart, on non-default ports", async () => {
    await boot();
    expect(paycore!.banner).toContain(`http://127.0.0.1:${ports.PORT}`);
    // The README's first payment, with the server's own settings: it finds both servers and says where.
    const demo = readBanner(paycore!.banner).demo;
    const example = await runCommand(process.execPath, ["--import", "tsx", "examples/first-payment.ts"], {
      cwd: ROOT, timeout_ms: 60_000,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...ports, MCH_ID: demo.mch_id, KEY_ID: demo.key_id, SECRET: demo.secret },
    });
    expect(example.status, example.stderr).toBe(0);
    expect(example.stdout).toContain(`using paycore at http://127.0.0.1:${ports.PORT} (PORT=${ports.PORT}), sandbox at http://127.0.0.1:${ports.SANDBOX_PORT} (SANDBOX_PORT=${ports.SANDBOX_PORT})`);
    expect(example.stdout).toMatch(/pay: pay_\S+ succeeded/);
    // Not the example's card (it takes the first such one): this walk signs its own.
    const card = (await cards()).filter((c) => c.card_type === "debit" && c.status === "normal" && c.balance >= 100_000)[1]!;
    const start = await client.post<Json>("/v1/agreements", { out_request_no: "walk-sign", user_ref: "walker", card: cardBody(card) });
    expect(start.status).toBe(201);
    const sms = (await (await fetch(`${sandbox_url}/sandbox/v1/sms?phone=${card.phone}`)).json()) as { data: { otp: string }[] };
    const confirm = await client.post<Json>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp: sms.data.at(-1)!.otp });
    expect(confirm.status).toBe(201);
    const agreement_id = confirm.body.agreement_id as string;
    const first = await pay("walk-1", agreement_id, 1_234);
    expect(first.body.status).toBe("succeeded");
    const balance_after_first = (await cards()).find((c) => c.card_number === card.card_number)!.balance;

    // A crash: nothing gets a chance to save; the journal already holds every change.
    expect(await paycore!.stop("SIGKILL")).toBe(null);
    await boot();
    expect((await cards()).find((c) => c.card_number === card.card_number)!.balance).toBe(balance_after_first);
    const second = await pay("walk-2", agreement_id, 2_000);
    expect(second.body).toMatchObject({ status: "succeeded" });
    const refund = await client.post<Json>(`/v1/payments/${first.body.payment_id as string}/refunds`, { out_refund_no: "walk-r1", amount: 1_234, reason: "walk" });
    expect(refund.status).toBe(201);
    expect(refund.body.status).toBe("succeeded");

    // A clean stop and start: the same, and signing again finds the same live agreement.
    expect(await paycore!.stop()).toBe(0);
    await boot();
    const third = await pay("walk-3", agreement_id, 300);
    expect(third.body.status).toBe("succeeded");
    const refund2 = await client.post<Json>(`/v1/payments/${second.body.payment_id as string}/refunds`, { out_refund_no: "walk-r2", amount: 2_000, reason: "walk" });
    expect(refund2.body.status).toBe("succeeded");
    expect((await cards()).find((c) => c.card_number === card.card_number)!.balance).toBe(balance_after_first + 1_234 - 300);
    expect(await paycore!.stop()).toBe(0);
    paycore = null;
  }, 180_000);
});
