import { z } from "zod";
import type { Ctx } from "../../context.ts";
import { createOperator, listAudit, listOperators, recordAudit } from "../../operators/index.ts";
import { ADMIN_ONLY, adminRoute, type RouteDef } from "../route.ts";
import { PageQuery, listOf } from "./common.ts";

const OperatorOut = z.object({ operator_id: z.string(), name: z.string(), role: z.enum(["admin", "operator", "auditor"]) });
const AuditOut = z.object({
  audit_id: z.string(),
  operator_id: z.string(),
  action: z.string(),
  target_type: z.string(),
  target_id: z.string(),
  before: z.unknown(),
  after: z.unknown(),
  request_id: z.string(),
  created_at: z.string(),
});

export function adminOperatorRoutes(ctx: Ctx): RouteDef[] {
  return [
    adminRoute({
      method: "POST",
      url: "/admin/v1/operators",
      summary: "Create an operator; answers its token once",
      tags: ["Admin: operators"],
      roles: ADMIN_ONLY,
      body: z.strictObject({ name: z.string().trim().min(1).max(64), role: z.enum(["admin", "operator", "auditor"]) }),
      response: OperatorOut.extend({ token: z.string() }),
      success_status: 201,
      handler: async (i) => {
        const { operator, token } = await ctx.db.transaction().execute(async (trx) => {
          const made = await createOperator({ db: trx, clock: ctx.clock }, i.body);
          const audit = { operator_id: i.operator.operator_id, request_id: i.request_id, action: "operator.create", target_type: "operator", target_id: made.operator.operator_id };
          await recordAudit(trx, { ...audit, before: null, after: made.operator }, ctx.clock.now());
          return made;
        });
        return { status: 201, body: { ...operator, token } };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/operators",
      summary: "List active operators",
      tags: ["Admin: operators"],
      roles: ADMIN_ONLY,
      response: z.object({ data: z.array(OperatorOut) }),
      handler: async () => ({ body: { data: await listOperators(ctx.db) } }),
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/audit-log",
      summary: "Who did what, when: every admin mutation with before/after and request id",
      tags: ["Admin: operators"],
      query: z.strictObject({
        ...PageQuery,
        target_type: z.string().max(32).optional(),
        target_id: z.string().max(64).optional(),
        operator_id: z.string().max(64).optional(),
        action: z.string().max(64).optional(),
      }),
      response: listOf(AuditOut),
      handler: async (i) => {
        const page = await listAudit(ctx.db, i.query);
        return { body: { ...page, data: page.data.map((r) => ({ ...r, created_at: r.created_at.toISOString() })) } };
      },
    }),
  ];
}
