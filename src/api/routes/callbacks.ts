import { z } from "zod";
import { unbindByNetwork } from "../../agreements/unbind.ts";
import type { ChannelNotification } from "../../channels/types.ts";
import type { PaymentDeps } from "../../payments/deps.ts";
import { applyNotifiedPayment, applyRefundOutcome } from "../../payments/outcomes.ts";
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
        const parsed = adapter.parseNotification({ body: i.request.raw_body ?? "", content_type: i.request.headers["content-type"] });
        if (!parsed.ok) {
          deps.ctx.log.warn({ channel_id: i.params.channel_id, error: parsed.error }, "network notification rejected");
        } else {
          await handleNotification(deps, i.params.channel_id, parsed.notification);
        }
        return { status: parsed.ack.status, body: parsed.ack.body, content_type: parsed.ack.content_type };
      },
    }),
  ];
}

async function handleNotification(deps: PaymentDeps, channel_id: string, n: ChannelNotification): Promise<void> {
  switch (n.kind) {
    case "agreement_unbound": {
      const { ended } = await unbindByNetwork(deps, channel_id, n.agreement_no);
      deps.ctx.log.info({ channel_id, ended }, "network unbind notice applied");
      return;
    }
    case "txn_result": {
      if (n.txn_kind === "pay") {
        await applyNotifiedPayment(deps, channel_id, n.txn_id, n.outcome);
      } else {
        const r = await deps.ctx.db.selectFrom("refunds").select("refund_id").where("txn_id", "=", n.txn_id).where("channel_id", "=", channel_id).executeTakeFirst();
        if (r) await applyRefundOutcome(deps, r.refund_id, n.outcome, "notify");
      }
      return;
    }
  }
}
