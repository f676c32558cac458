import { z } from "zod";
import { assert } from "../kernel/assert.ts";
import { fenToWire, type Fen } from "../kernel/money.ts";

/**
 * The narrow seam between settlement and the money actually moving. Until the payouts capability
 * lands, a payout instruction is executed as a plain bank transfer (the sandbox bank in
 * development and tests). An executor is idempotent by `transfer_id`: executing the same
 * instruction twice makes one transfer and answers its state.
 */
export interface TransferInstruction {
  transfer_id: string;
  amount: Fen;
  payee: { account_name: string; account_number: string; bank_code: string };
  purpose: string;
}

/** `pending` is anything the bank did not state as final (including no answer at all). */
export type TransferOutcome = { status: "succeeded" } | { status: "failed"; reason: string } | { status: "pending"; reason: string };

export interface TransferExecutor {
  execute(instruction: TransferInstruction): Promise<TransferOutcome>;
  /** The transfer's state; `not_found` when the bank never received it (safe to execute again). */
  status(transfer_id: string): Promise<TransferOutcome | { status: "not_found" }>;
}

const TRANSFER_TIMEOUT_MS = 10_000;

const TransferAnswer = z.object({
  transfer_id: z.string(),
  status: z.enum(["succeeded", "failed", "processing"]),
  failure_reason: z.string().nullable().optional(),
});

function outcomeOf(body: unknown, transfer_id: string): TransferOutcome {
  const parsed = TransferAnswer.safeParse(body);
  if (!parsed.success || parsed.data.transfer_id !== transfer_id) return { status: "pending", reason: "unreadable bank answer" };
  switch (parsed.data.status) {
    case "succeeded":
      return { status: "succeeded" };
    case "failed":
      return { status: "failed", reason: parsed.data.failure_reason ?? "rejected by the bank" };
    case "processing":
      return { status: "pending", reason: "the bank is processing it" };
  }
}

/** Transfers through the sandbox bank's HTTP API (`POST /sandbox/v1/transfers`). */
export class SandboxBankTransfers implements TransferExecutor {
  private readonly base_url: string;

  constructor(base_url: string) {
    assert(/^https?:\/\//.test(base_url), "sandbox URL must be http(s)");
    this.base_url = base_url.replace(/\/+$/, "");
  }

  async execute(instruction: TransferInstruction): Promise<TransferOutcome> {
    assert(instruction.amount > 0n, "a transfer moves a positive amount");
    const body = JSON.stringify({ transfer_id: instruction.transfer_id, amount: fenToWire(instruction.amount), currency: "CNY", payee: instruction.payee, purpose: instruction.purpose });
    const answer = await this.call("POST", "/sandbox/v1/transfers", body);
    if (answer.kind === "no_answer") return { status: "pending", reason: answer.reason };
    // 400/422: the bank refused the request itself and made no transfer. Anything else unexpected
    // (a 409 for a different transfer under this id, a 5xx) is not a stated outcome: pending.
    if (answer.status === 400 || answer.status === 422) return { status: "failed", reason: `bank refused the request (${answer.status})` };
    if (answer.status !== 200 && answer.status !== 201) return { status: "pending", reason: `bank answered ${answer.status}` };
    return outcomeOf(answer.body, instruction.transfer_id);
  }

  async status(transfer_id: string): Promise<TransferOutcome | { status: "not_found" }> {
    const answer = await this.call("GET", `/sandbox/v1/transfers/${encodeURIComponent(transfer_id)}`);
    if (answer.kind === "no_answer") return { status: "pending", reason: answer.reason };
    if (answer.status === 404) return { status: "not_found" };
    if (answer.status !== 200) return { status: "pending", reason: `bank answered ${answer.status}` };
    return outcomeOf(answer.body, transfer_id);
  }

  private async call(method: "GET" | "POST", path: string, body?: string): Promise<{ kind: "answer"; status: number; body: unknown } | { kind: "no_answer"; reason: string }> {
    try {
      const res = await fetch(this.base_url + path, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(TRANSFER_TIMEOUT_MS),
      });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = null;
      }
      return { kind: "answer", status: res.status, body: parsed };
    } catch (err) {
      return { kind: "no_answer", reason: err instanceof Error ? err.message : String(err) };
    }
  }
}

/**
 * The executor a running paycore uses: the sandbox at `SANDBOX_URL`, else the one `paycore start`
 * runs beside the API on `SANDBOX_PORT` (default 3100).
 */
export function sandboxTransfersFromEnv(env: Record<string, string | undefined> = process.env): SandboxBankTransfers {
  const url = env.SANDBOX_URL || `http://${env.HOST || "127.0.0.1"}:${env.SANDBOX_PORT || "3100"}`;
  return new SandboxBankTransfers(url);
}
