import { z } from "zod";
import { unbindByNetwork } from "../../agreements/unbind.ts";
import type { ChannelNotification } from "../../channels/types.ts";
import type { PaymentDeps } from "../../payments/deps.ts";
import type { PaymentRow } from "../../db/index.ts";
import { applyNotifiedPayment, applyRefundOutcome, notifiedAsRecorded } from "../../payments/outcomes.ts";
import { publicRoute, type RouteDef } from "../route.ts";

/**
 * What the networks POST to paycore: transaction results and unbind notices. The adapter checks
 * the network's signature and answers the network's way; a notice that does not verify changes
 * nothing. Handling is idempotent: a duplicated notification finds the work done.
 */
export function callbackRoutes(deps: PaymentDeps): RouteDef[] {
  return [
    publicRoute({
      method: "POST",
      url: "/callbacks/channels/:channel_id",
      summary: "Network notifications (signed by the network; not for merchants)",
      tags: ["Network callbacks"],
      params: z.strictObject({ channel_id: z.enum(["netsunion", "unionpay_nocard", "unionpay_quickpay"]) }),
      produces: "text/plain",
      handler: async (i) => {
        const adapter = await deps.channels.adapter(i.params.channel_id);
        const input = { body: i.request.raw_body ?? "", content_type: i.request.headers["content-type"] };
        // A payment's result usually arrives while this process is still recording the network's
        // signed answer for it (src/payments/in-flight.ts). When the notification says exactly what
        // was recorded, it can change nothing and tells its sender nothing it did not know: it is
        // acknowledged without its signature checked (an SM2 verification, about 5 % of paycore's
        // CPU per payment). It is not entered in the replay guard, and nothing of it is logged,
        // counted or stored. Anything else is verified before it is used.
        const inspection = adapter.inspectNotification?.(input);
        const unverified = inspection?.unverified;
        let in_flight: PaymentRow | null = null;
        if (inspection && unverified?.kind === "txn_result" && unverified.txn_kind === "pay") {
          const { same, recorded } = await notifiedAsRecorded(deps, i.params.channel_id, unverified.txn_id, unverified.outcome);
          if (same) return { status: inspection.ack.status, body: inspection.ack.body, content_type: inspection.ack.content_type };
          in_flight = recorded;
        }
        const parsed = inspection ? inspection.verify() : adapter.parseNotification(input);
        if (!parsed.ok) {
          deps.ctx.log.warn({ channel_id: i.params.channel_id, error: parsed.error }, "network notification rejected");
        } else {
          await handleNotification(deps, i.params.channel_id, parsed.notification, in_flight);
        }
        return { status: parsed.ack.status, body: parsed.ack.body, content_type: parsed.ack.content_type };
      },
    }),
  ];
}

/** `in_flight`: the payment as this process's call recorded it, when the inspection already waited for it. */
async function handleNotification(deps: PaymentDeps, channel_id: string, n: ChannelNotification, in_flight: PaymentRow | null): Promise<void> {
  switch (n.kind) {
    case "agreement_unbound": {
      const { ended } = await unbindByNetwork(deps, channel_id, n.agreement_no);
      deps.ctx.log.info({ channel_id, ended }, "network unbind notice applied");
      return;
    }
    case "txn_result": {
      if (n.txn_kind === "pay") {
        // Only a row for this very transaction (the verified one may name another than the inspection did).
        await applyNotifiedPayment(deps, channel_id, n.txn_id, n.outcome, in_flight?.txn_id === n.txn_id ? in_flight : null);
      } else {
        const r = await deps.ctx.db.selectFrom("refunds").select("refund_id").where("txn_id", "=", n.txn_id).where("channel_id", "=", channel_id).executeTakeFirst();
        if (r) await applyRefundOutcome(deps, r.refund_id, n.outcome, "notify");
      }
      return;
    }
  }
}
