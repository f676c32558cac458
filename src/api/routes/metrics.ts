import type { Metrics } from "../../metrics/index.ts";
import { adminRoute, READ_ROLES, type RouteDef } from "../route.ts";

/** Prometheus scrapes with an operator token (an auditor's is enough: it only reads). */
export function metricsRoute(metrics: Metrics): RouteDef {
  return adminRoute({
    method: "GET",
    url: "/metrics",
    summary: "Prometheus metrics (text exposition format): requests, outcomes, backlogs, channel health, database pool, event loop",
    description: "Authorization: Bearer <operator token>. docs/metrics.md lists every series; docs/grafana-dashboard.json is a sample dashboard.",
    tags: ["Admin: operations"],
    roles: READ_ROLES,
    produces: "text/plain; version=0.0.4",
    handler: async () => ({ body: await metrics.render(), content_type: metrics.content_type }),
  });
}
