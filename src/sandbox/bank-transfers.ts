import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { SandboxState } from "./persistence.ts";
import { fenWire } from "../kernel/money-wire.ts";

/**
 * The sandbox bank's plain credit transfers: where paycore's settlement payouts land until the
 * payouts capability (HVPS/BEPS/IBPS routing) exists. Idempotent on `transfer_id`: the same id
 * with the same body answers the first transfer; with another body, 409.
 *
 * Test accounts (like test card numbers): a payee account number ending in `0000` is a closed
 * account (the transfer fails, `account_closed`); one ending in `9999` is processed slowly (the
 * first answer is `processing`, it has succeeded by the first status query). Any other succeeds.
 */
const TRANSFERS_MAX = 100_000;
const LIST_PAGE_MAX = 1_000;

const TransferRequest = z.strictObject({
  transfer_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  amount: fenWire(1),
  currency: z.literal("CNY").default("CNY"),
  payee: z.strictObject({
    account_name: z.string().min(1).max(128),
    account_number: z.string().regex(/^\d{8,32}$/),
    bank_code: z.string().regex(/^\d{12}$/),
  }),
  purpose: z.string().min(1).max(256),
});
type TransferRequest = z.infer<typeof TransferRequest>;

interface Transfer {
  request: TransferRequest;
  body_key: string;
  status: "processing" | "succeeded" | "failed";
  failure_reason: string | null;
  created_at: string;
}

function outcomeFor(account_number: string): Pick<Transfer, "status" | "failure_reason"> {
  if (account_number.endsWith("0000")) return { status: "failed", failure_reason: "account_closed" };
  if (account_number.endsWith("9999")) return { status: "processing", failure_reason: null };
  return { status: "succeeded", failure_reason: null };
}

function wire(t: Transfer) {
  return {
    transfer_id: t.request.transfer_id,
    amount: t.request.amount,
    currency: t.request.currency,
    payee: t.request.payee,
    purpose: t.request.purpose,
    status: t.status,
    failure_reason: t.failure_reason,
    created_at: t.created_at,
  };
}

export function registerBankTransferRoutes(app: FastifyInstance, now: () => Date, state: SandboxState): void {
  const transfers = state.table<Transfer>("bank.transfers");

  app.post("/sandbox/v1/transfers", async (request, reply) => {
    const parsed = TransferRequest.safeParse(request.body);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
      return reply.code(400).send({ error: { code: "invalid_request", message } });
    }
    const body_key = JSON.stringify(parsed.data);
    const existing = transfers.get(parsed.data.transfer_id);
    if (existing) {
      if (existing.body_key !== body_key) return reply.code(409).send({ error: { code: "conflict", message: "another transfer has this transfer_id" } });
      return reply.code(200).send(wire(existing));
    }
    if (transfers.size >= TRANSFERS_MAX) return reply.code(503).send({ error: { code: "capacity", message: "sandbox transfer store is full" } });
    const transfer: Transfer = { request: parsed.data, body_key, ...outcomeFor(parsed.data.payee.account_number), created_at: now().toISOString() };
    transfers.set(parsed.data.transfer_id, transfer);
    return reply.code(201).send(wire(transfer));
  });

  app.get<{ Params: { transfer_id: string } }>("/sandbox/v1/transfers/:transfer_id", async (request, reply) => {
    const transfer = transfers.get(request.params.transfer_id);
    if (!transfer) return reply.code(404).send({ error: { code: "not_found", message: "no such transfer" } });
    if (transfer.status === "processing") {
      transfer.status = "succeeded";
      transfers.set(transfer.request.transfer_id, transfer);
    }
    return wire(transfer);
  });

  app.get<{ Querystring: { account_number?: string } }>("/sandbox/v1/transfers", async (request) => {
    const account = request.query.account_number;
    const data = [...transfers.values()].filter((t) => account === undefined || t.request.payee.account_number === account).slice(-LIST_PAGE_MAX);
    return { data: data.map(wire) };
  });
}
