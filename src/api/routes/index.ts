import type { Ctx } from "../../context.ts";
import type { RouteDef } from "../route.ts";
import { adminEventRoutes } from "./admin-events.ts";
import { adminMerchantRoutes } from "./admin-merchants.ts";
import { adminOperatorRoutes } from "./admin-operators.ts";
import { healthRoutes } from "./health.ts";
import { openBalanceRoutes } from "./open-balance.ts";

/** Every route of the server, in the order the docs list them. */
export function allRoutes(ctx: Ctx): RouteDef[] {
  return [...openBalanceRoutes(ctx), ...adminMerchantRoutes(ctx), ...adminOperatorRoutes(ctx), ...adminEventRoutes(ctx), ...healthRoutes(ctx)];
}
