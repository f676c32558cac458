import type { Kysely } from "kysely";
import type { Database, PayoutRailRow } from "../db/index.ts";
import { cnapsParticipant } from "../kernel/banks.ts";
import { RAILS, railWindow, type Rail } from "../kernel/cnaps/hours.ts";
import type { Fen } from "../kernel/money.ts";
import type { PayoutDeps } from "./deps.ts";
import { routePayout, type PayoutRoute, type RailChoice } from "./routing.ts";

/** The rails' configuration (payout_rails) joined with this process's view of their health. */
export async function railChoices(pd: PayoutDeps, db: Kysely<Database> = pd.ctx.db): Promise<RailChoice[]> {
  const rows = await db.selectFrom("payout_rails").selectAll().execute();
  const now_ms = pd.ctx.clock.now().getTime();
  return RAILS.flatMap((rail) => {
    const row = rows.find((r) => r.rail === rail);
    return row ? [{ rail, enabled: row.enabled, healthy: pd.health.healthy(rail, now_ms), per_item_max: row.per_item_max, cost_per_item: row.cost_per_item }] : [];
  });
}

/** The reserve bank: the bank of the institution's reserve account (bank-direct goes through it). */
export function reserveBankPrefix(pd: PayoutDeps): string | null {
  return pd.gateway ? pd.gateway.reserve_account.agent.slice(0, 3) : null;
}

export async function routeNow(pd: PayoutDeps, p: { amount: Fen; urgency: "normal" | "urgent"; payee_bank_code: string }, db?: Kysely<Database>): Promise<PayoutRoute> {
  const participant = cnapsParticipant(p.payee_bank_code);
  const input = { amount: p.amount, urgency: p.urgency, payee_in_ibps: participant?.ibps ?? false, payee_at_reserve_bank: p.payee_bank_code.slice(0, 3) === reserveBankPrefix(pd) };
  return routePayout(input, await railChoices(pd, db), pd.ctx.clock.now(), pd.calendar);
}

export interface RailView {
  rail: Rail;
  state: "open" | "closed";
  next_open_at: Date | null;
  per_item_max: Fen | null;
  cost_per_item: Fen;
  enabled: boolean;
  healthy: boolean;
}

export async function railViews(pd: PayoutDeps): Promise<RailView[]> {
  const now = pd.ctx.clock.now();
  return (await railChoices(pd)).map((r) => {
    const w = railWindow(r.rail, now, pd.calendar);
    const open = r.enabled && w.open;
    return { rail: r.rail, state: open ? "open" : "closed", next_open_at: open ? null : w.next_open_at, per_item_max: r.per_item_max, cost_per_item: r.cost_per_item, enabled: r.enabled, healthy: r.healthy };
  });
}

export type RailPatch = Partial<Pick<PayoutRailRow, "enabled" | "per_item_max" | "cost_per_item">>;

export async function updateRail(db: Kysely<Database>, rail: Rail, patch: RailPatch, now: Date): Promise<{ before: PayoutRailRow; after: PayoutRailRow }> {
  const before = await db.selectFrom("payout_rails").selectAll().where("rail", "=", rail).forUpdate().executeTakeFirstOrThrow();
  const after = await db.updateTable("payout_rails").set({ ...patch, updated_at: now }).where("rail", "=", rail).returningAll().executeTakeFirstOrThrow();
  return { before, after };
}
