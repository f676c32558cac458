import { z } from "zod";
import { DEFAULT_APPROVER_ROLES, type Proposals } from "../../proposals/index.ts";
import { adminRoute, type RouteDef } from "../route.ts";

/**
 * Who the operator token belongs to and what it may do, derived from the route table itself: the
 * console shows a button only when the admin API would accept the call behind it, so the two
 * cannot disagree. `allowed` lists `METHOD /admin/v1/path/:param` for every admin operation the
 * role may call; `approves` lists the proposal kinds the role may approve (never its own).
 */
export function adminSessionRoute(routes: () => readonly RouteDef[], proposals: Proposals): RouteDef {
  return adminRoute({
    method: "GET",
    url: "/admin/v1/session",
    summary: "The signed-in operator: id, name, role, the admin operations the role may call and the proposal kinds it may approve",
    tags: ["Admin: operators"],
    response: z.object({
      operator_id: z.string(),
      name: z.string(),
      role: z.enum(["admin", "operator", "auditor"]),
      allowed: z.array(z.string()),
      approves: z.array(z.string()),
    }),
    handler: async (i) => {
      const role = i.operator.role;
      const allowed = routes()
        .filter((r) => r.auth === "admin" && r.roles.includes(role))
        .map((r) => `${r.method} ${r.url}`)
        .sort();
      const approves = proposals.registry.names().filter((kind) => (proposals.registry.get(kind)?.approver_roles ?? DEFAULT_APPROVER_ROLES).includes(role));
      return { body: { operator_id: i.operator.operator_id, name: i.operator.name, role, allowed, approves } };
    },
  });
}
