import type { PayoutDeps } from "./deps.ts";
import { receiveDeposit } from "./deposits.ts";
import { outcomeOfReport } from "./gateway.ts";
import { applyRailOutcome, applyReturn } from "./outcomes.ts";

/**
 * What the rails push to paycore (`POST /callbacks/channels/cnaps`): batch and forwarded results
 * (pacs.002), returns (pacs.004) and incoming credits (camt.054). Only signed messages that verify
 * with the rails' key are read; each is applied idempotently, so a repeated push finds the work done.
 */
export async function handleRailPush(pd: PayoutDeps, raw: string): Promise<{ status: 200 | 400; body: string }> {
  if (!pd.gateway) return { status: 400, body: "no rail gateway configured" };
  const opened = pd.gateway.open(raw);
  if (!opened.ok) {
    pd.ctx.log.warn({ reason: opened.reason, detail: opened.detail }, "rail message rejected");
    return { status: 400, body: opened.reason };
  }
  const m = opened.message;
  switch (m.type) {
    case "pacs.002":
      await applyRailOutcome(pd, m.original_msg_id, outcomeOfReport(m));
      break;
    case "pacs.004":
      await applyReturn(pd, m.original_msg_id, m.reason);
      break;
    case "camt.054":
      await receiveDeposit(pd, m);
      break;
    default:
      return { status: 400, body: `unexpected ${m.type}` };
  }
  return { status: 200, body: "ok" };
}
