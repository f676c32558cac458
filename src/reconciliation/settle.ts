import { z } from "zod";
import type { PaymentDeps } from "../payments/deps.ts";
import { postNetworkSettled } from "../ledger/index.ts";
import type { ReconciliationRow } from "../db/index.ts";
import { raiseAlert } from "./alerts.ts";

/**
 * Network settlement: what the network owes for a day (its file's net) was booked as receivable
 * by each payment and refund; when the network's settlement transfer reaches the reserve account
 * it moves receivable → reserve funds (`postNetworkSettled`, idempotent per channel and day).
 * The amount posted is what arrived; when it is not the file's net an alert says so.
 *
 * Where the transfer is learnt: the sandbox answers `GET /sandbox/v1/network-settlements`; a real
 * deployment reads the reserve bank's incoming-credit announcements (same shape).
 */
export interface ConfirmedSettlement {
  amount_fen: bigint;
  transfer_id: string;
}

export interface NetworkSettlementSource {
  confirmed(channel_id: string, date: string): Promise<ConfirmedSettlement | null>;
}

const SandboxAnswer = z.object({ status: z.enum(["settled", "pending"]), amount: z.number().int(), transfer_id: z.string().max(64) });
const SETTLEMENT_TIMEOUT_MS = 10_000;

export function sandboxSettlementSource(sandbox_url: string): NetworkSettlementSource {
  return {
    async confirmed(channel_id, date) {
      const url = `${sandbox_url.replace(/\/+$/, "")}/sandbox/v1/network-settlements?channel=${encodeURIComponent(channel_id)}&date=${date}`;
      const response = await fetch(url, { signal: AbortSignal.timeout(SETTLEMENT_TIMEOUT_MS) });
      if (response.status !== 200) return null;
      const parsed = SandboxAnswer.safeParse(await response.json());
      if (!parsed.success || parsed.data.status !== "settled") return null;
      return { amount_fen: BigInt(parsed.data.amount), transfer_id: parsed.data.transfer_id };
    },
  };
}

/** Books the day's settlement once the network's transfer is confirmed. Answers the amount posted, or null. */
export async function settleDay(deps: PaymentDeps, run: ReconciliationRow, source: NetworkSettlementSource | null): Promise<bigint | null> {
  if (run.settled_at !== null) return run.settled_amount;
  if (!source) return null;
  const confirmed = await source.confirmed(run.channel_id, run.settlement_date).catch(() => null);
  if (!confirmed) return null;
  const { ctx } = deps;
  const at = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    if (confirmed.amount_fen !== 0n) {
      await postNetworkSettled(trx, { channel_id: run.channel_id, settlement_date: run.settlement_date, amount: confirmed.amount_fen, at });
    }
    await trx
      .updateTable("reconciliations")
      .set({ settled_amount: confirmed.amount_fen, settled_at: at, updated_at: at })
      .where("reconciliation_id", "=", run.reconciliation_id)
      .execute();
  });
  if (confirmed.amount_fen !== run.file_net) {
    const message = `${run.channel_id} settled ${confirmed.amount_fen} fen for ${run.settlement_date} but its file nets ${run.file_net}`;
    await raiseAlert(ctx.db, ctx.log, { channel_id: run.channel_id, settlement_date: run.settlement_date, kind: "settlement_mismatch", message }, at);
  }
  return confirmed.amount_fen;
}
