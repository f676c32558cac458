import type { PaycoreClient } from "../../src/client/index.ts";

/** One payment attempt as the load saw it. */
export interface Attempt {
  out_trade_no: string;
  amount: number;
  http_status: number | null;
  code: string | null;
  payment_status: string | null;
  ms: number;
  at_ms: number;
}

const RETRY_LATER_PAUSE_MS = 250;

type Json = Record<string, unknown> & { error?: { code: string } };

export function paymentBody(agreement_id: string, out_trade_no: string, amount: number) {
  return { out_trade_no, agreement_id, amount, currency: "CNY", description: "outage load" };
}

/**
 * Signed payments from `workers` clients in a loop until `stop()` says so, each with a fresh
 * out_trade_no and a small amount. Bounded: at most `attempts_max` attempts in all.
 */
export async function paymentLoad(options: {
  client: PaycoreClient;
  agreement_id: string;
  workers: number;
  prefix: string;
  attempts_max: number;
  until: Promise<unknown>;
}): Promise<Attempt[]> {
  const attempts: Attempt[] = [];
  let done = false;
  void options.until.then(() => (done = true));
  const t0 = Date.now();
  let seq = 0;
  const worker = async () => {
    while (!done && seq < options.attempts_max) {
      seq += 1;
      const out_trade_no = `${options.prefix}-${seq}`;
      const amount = 100 + ((seq * 37) % 900);
      const started = Date.now();
      let http_status: number | null = null;
      let code: string | null = null;
      let payment_status: string | null = null;
      try {
        const res = await options.client.post<Json>("/v1/payments", paymentBody(options.agreement_id, out_trade_no, amount));
        http_status = res.status;
        code = res.body.error?.code ?? null;
        payment_status = typeof res.body.status === "string" ? res.body.status : null;
      } catch (err) {
        code = `transport: ${(err as Error).message}`;
      }
      attempts.push({ out_trade_no, amount, http_status, code, payment_status, ms: Date.now() - started, at_ms: started - t0 });
      // A well-behaved merchant backs off when told to retry later.
      if (http_status === 503) await sleep(RETRY_LATER_PAUSE_MS);
    }
  };
  await Promise.all(Array.from({ length: options.workers }, worker));
  return attempts;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
