import { sql } from "kysely";
import { z } from "zod";
import type { Ctx } from "../../context.ts";
import { PaycoreError } from "../../kernel/errors.ts";
import { publicRoute, type RouteDef } from "../route.ts";

export function healthRoutes(ctx: Ctx): RouteDef[] {
  return [
    publicRoute({
      method: "GET",
      url: "/healthz",
      summary: "Ready: the server takes requests and the database answers",
      tags: ["Health"],
      response: z.object({ status: z.literal("ok"), database: z.literal("ok") }),
      handler: async () => {
        try {
          await sql`SELECT 1`.execute(ctx.db);
        } catch {
          throw new PaycoreError("service_unavailable", "not ready: the database does not answer");
        }
        return { body: { status: "ok", database: "ok" } };
      },
    }),
  ];
}
