import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { merchantRoute, type RouteDef } from "../../src/api/route.ts";
import type { Ctx } from "../../src/context.ts";
import { PaycoreError } from "../../src/kernel/errors.ts";

/**
 * A merchant POST route for testing the edge's reusable parts (signatures, idempotency) before
 * the business endpoints exist. Each call that runs counts one effect per merchant ID.
 */
export const echoEffects = new Map<string, number>();

export function echoRoutes(_ctx: Ctx): RouteDef[] {
  return [
    merchantRoute({
      method: "POST",
      url: "/v1/test/echo",
      summary: "test only",
      tags: ["test"],
      body: z.strictObject({ value: z.string().max(100), delay_ms: z.number().int().min(0).max(2000).optional(), fail: z.enum(["limit", "internal"]).optional() }),
      handler: async (i) => {
        if (i.body.delay_ms) await sleep(i.body.delay_ms);
        if (i.body.fail === "internal") throw new Error("simulated crash");
        const n = (echoEffects.get(i.merchant.merchant_id) ?? 0) + 1;
        echoEffects.set(i.merchant.merchant_id, n);
        if (i.body.fail === "limit") throw new PaycoreError("limit_exceeded", "simulated limit");
        return { status: 201, body: { value: i.body.value, effect: n, request_id: i.request_id } };
      },
    }),
  ];
}
