import type { Ctx } from "../context.ts";
import { RailCalendar } from "../kernel/cnaps/hours.ts";
import type { RailGateway } from "./gateway.ts";
import { RailHealth } from "./health.ts";

/** What payouts need: the context, the line to the rails (none = nothing is sent), health, the calendar. */
export interface PayoutDeps {
  ctx: Ctx;
  gateway: RailGateway | null;
  health: RailHealth;
  calendar: RailCalendar;
}

/** `PAYCORE_RAIL_CALENDAR`: `cn` (default) or `test`. */
export function createPayoutDeps(ctx: Ctx, gateway: RailGateway | null, calendar_name = process.env.PAYCORE_RAIL_CALENDAR ?? "cn"): PayoutDeps {
  return { ctx, gateway, health: new RailHealth(), calendar: RailCalendar.named(calendar_name) };
}

/** The institution's reserve account at its reserve bank (ICBC, as the sandbox plays it): the payer of every payout. */
export const DEFAULT_RESERVE_ACCOUNT = { name: "paycore 支付机构备付金", account: "1022000000000001", agent: "102100099996" } as const;
