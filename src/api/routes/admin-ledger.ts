import { z } from "zod";
import type { Ctx } from "../../context.ts";
import { PaycoreError, notFound } from "../../kernel/errors.ts";
import { fenToWire } from "../../kernel/money.ts";
import {
  ACCOUNT_KINDS,
  PLATFORM_SCOPE,
  isIsoDate,
  listAccounts,
  businessDateIn,
  cutoffFor,
  loadCalendar,
  marginReport,
  searchJournal,
  setRefundFeePolicy,
  trialBalance,
  updateCalendar,
  type AccountView,
  type SettlementCalendar,
} from "../../ledger/index.ts";
import { recordAudit } from "../../operators/index.ts";
import {
  checkBooks,
  executePayouts,
  holdSettlement,
  listPayouts,
  listSettlements,
  HOLD_RELEASE_KIND,
  PAYOUT_OVERRIDE_KIND,
  holdReleaseKind,
  payoutOverrideKind,
  runSettlement,
  buildStatement,
  type RunSummary,
  type Statement,
} from "../../settlement/index.ts";
import type { PayoutDeps } from "../../payouts/index.ts";
import type { Proposals } from "../../proposals/index.ts";
import { ADMIN_ONLY, adminRoute, type RouteDef } from "../route.ts";
import { ProposalOut } from "./admin-proposals.ts";
import { PageQuery, listOf } from "./common.ts";
import { SettlementOut, beijingToday, settlementToWire } from "./open-settlement.ts";

const IsoDate = z.string().refine(isIsoDate, "must be a date YYYY-MM-DD");
const Fen = z.number().int();
const AccountKind = z.enum(Object.keys(ACCOUNT_KINDS) as [keyof typeof ACCOUNT_KINDS, ...(keyof typeof ACCOUNT_KINDS)[]]);
const EventType = z.enum(["payment_succeeded", "refund_succeeded", "network_settled", "settlement_matured", "payout_instructed", "payout_succeeded", "payout_failed"]);
const MerchantIdParam = z.strictObject({ merchant_id: z.string().min(1).max(64) });

const AccountOut = z.object({
  account_code: z.string(),
  kind: AccountKind,
  name_zh: z.string(),
  account_type: z.enum(["asset", "liability", "income", "expense"]),
  owner_id: z.string().nullable(),
  debits: Fen,
  credits: Fen,
  balance: Fen.describe("On the account's normal side"),
});
const accountToWire = (a: AccountView) => ({ ...a, debits: fenToWire(a.debits), credits: fenToWire(a.credits), balance: fenToWire(a.balance) });

const LineOut = z.object({ line_no: z.number().int(), account_code: z.string(), side: z.enum(["debit", "credit"]), amount: Fen, line_kind: z.string() });
const EntryOut = z.object({
  entry_id: z.string(),
  event_key: z.string(),
  event_type: EventType,
  reference_id: z.string(),
  merchant_id: z.string().nullable(),
  channel_id: z.string().nullable(),
  effective_at: z.string(),
  business_date: z.string(),
  posted_at: z.string(),
  amount: Fen,
  lines: z.array(LineOut),
});
type EntryRow = Awaited<ReturnType<typeof searchJournal>>["data"][number];
const entryToWire = (e: EntryRow) => ({
  entry_id: e.entry_id,
  event_key: e.event_key,
  event_type: e.event_type,
  reference_id: e.reference_id,
  merchant_id: e.merchant_id,
  channel_id: e.channel_id,
  effective_at: e.effective_at.toISOString(),
  business_date: e.business_date,
  posted_at: e.posted_at.toISOString(),
  amount: fenToWire(e.amount),
  lines: e.lines.map((l) => ({ line_no: l.line_no, account_code: l.account_code, side: l.side, amount: fenToWire(l.amount), line_kind: l.line_kind })),
});

const PayoutOut = z.object({
  instruction_id: z.string(),
  payee_merchant_id: z.string(),
  settlement_date: z.string(),
  batch_no: z.number().int(),
  amount: Fen,
  currency: z.literal("CNY"),
  payee: z.object({ account_name: z.string(), account_number_last4: z.string(), bank_code: z.string() }),
  status: z.enum(["created", "pending", "succeeded", "failed", "returned"]).describe("pending: its payout is queued or processing; then as the payout ended"),
  failure_reason: z.string().nullable(),
  attempt_count: z.number().int(),
  payout: z
    .object({ payout_id: z.string(), status: z.enum(["queued", "processing", "succeeded", "failed", "returned"]), rail: z.enum(["hvps", "beps", "ibps", "bank_direct"]).nullable(), route_reason: z.string() })
    .nullable()
    .describe("The payout that pays it (GET /admin/v1/payouts/{payout_id}); null for an instruction from before settlement payouts went by the rails"),
  created_at: z.string(),
  finished_at: z.string().nullable(),
});
const PassOut = z.object({ attempted: z.number().int(), succeeded: z.number().int(), failed: z.number().int(), pending: z.number().int() });
const RunOut = z.object({
  run_id: z.string().describe("The run's row: GET /admin/v1/settlements/runs/{run_id}"),
  date: z.string(),
  groups: z.number().int(),
  records_created: z.number().int(),
  carried_forward: z.number().int(),
  held: z.number().int(),
  not_closed: z.number().int().describe("Merchant IDs whose settlement window had not closed at the cut-off yet (run again later)"),
  payouts_created: z.number().int(),
  amount_instructed: Fen,
  payouts: PassOut.nullable(),
});
const runToWire = (r: RunSummary) => ({ ...r, amount_instructed: fenToWire(r.amount_instructed) });

const CalendarOut = z.object({
  cutoff: z.string().describe("Beijing time HH:MM at which the current business day closes"),
  cutoff_history: z
    .array(z.object({ effective_from: z.string(), cutoff: z.string() }))
    .describe("The cut-off's history, oldest first: from business day effective_from on, days close at cutoff. A change applies from the next open day"),
  holidays: z.array(z.string()),
  working_days: z.array(z.string()),
});
const HHMM = z.string().regex(/^([01]\d|2[0-4]):[0-5]\d$/, "HH:MM (24:00 = midnight)");
const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
const toHHMM = (minutes: number) => `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
const calendarToWire = (c: SettlementCalendar, now: Date) => ({
  cutoff: toHHMM(cutoffFor(c.cutoffs, businessDateIn(c.cutoffs, now))),
  cutoff_history: c.cutoffs.map((step) => ({ effective_from: step.effective_from, cutoff: toHHMM(step.cutoff_minutes) })),
  holidays: [...c.holidays].sort(),
  working_days: [...c.working_days].sort(),
});

type Actor = { operator: { operator_id: string }; request_id: string };
async function audit(ctx: Ctx, i: Actor, action: string, target_type: string, target_id: string, after: unknown): Promise<void> {
  await recordAudit(ctx.db, { operator_id: i.operator.operator_id, request_id: i.request_id, action, target_type, target_id, before: null, after }, ctx.clock.now());
}

/** Ledger: trial balance, check, accounts, journal, margin. */
function ledgerReadRoutes(ctx: Ctx): RouteDef[] {
  return [
    adminRoute({
      method: "GET",
      url: "/admin/v1/ledger/trial-balance",
      summary: "Trial balance: the sum of all debits and all credits (fen)",
      tags: ["Admin: ledger"],
      response: z.object({ debits: Fen, credits: Fen, balanced: z.boolean(), accounts: z.number().int() }),
      handler: async () => {
        const t = await trialBalance(ctx.db);
        return { body: { ...t, debits: fenToWire(t.debits), credits: fenToWire(t.credits) } };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/ledger/check",
      summary: "Recompute balances from the journal and compare (ledger and settlement); read-only",
      tags: ["Admin: ledger"],
      response: z.object({
        ok: z.boolean(),
        accounts_checked: z.number().int(),
        entries_checked: z.number().int(),
        trial_balance: z.object({ debits: Fen, credits: Fen, balanced: z.boolean() }),
        problems: z.array(z.object({ kind: z.string(), subject: z.string(), detail: z.string() })),
      }),
      handler: async () => {
        const c = await checkBooks(ctx.db);
        const t = c.trial_balance;
        return { body: { ...c, trial_balance: { debits: fenToWire(t.debits), credits: fenToWire(t.credits), balanced: t.balanced } } };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/ledger/accounts",
      summary: "Ledger accounts with their balances",
      tags: ["Admin: ledger"],
      query: z.strictObject({ ...PageQuery, kind: AccountKind.optional(), owner_id: z.string().max(64).optional() }),
      response: listOf(AccountOut),
      handler: async (i) => {
        const page = await listAccounts(ctx.db, i.query);
        return { body: { data: page.data.map(accountToWire), next_cursor: page.next_cursor } };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/ledger/journal",
      summary: "Search journal entries (newest first) by merchant, channel, event, reference, account or business dates",
      tags: ["Admin: ledger"],
      query: z.strictObject({
        ...PageQuery,
        merchant_id: z.string().max(64).optional(),
        channel_id: z.string().max(64).optional(),
        event_type: EventType.optional(),
        reference_id: z.string().max(128).optional(),
        account_code: z.string().max(128).optional(),
        business_date_from: IsoDate.optional(),
        business_date_to: IsoDate.optional(),
      }),
      response: listOf(EntryOut),
      handler: async (i) => {
        const page = await searchJournal(ctx.db, i.query);
        return { body: { data: page.data.map(entryToWire), next_cursor: page.next_cursor } };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/ledger/margin",
      summary: "Margin per merchant ID and network over business days: fees (net of fees returned) less network cost",
      tags: ["Admin: ledger"],
      query: z.strictObject({ from: IsoDate, to: IsoDate }),
      response: z.object({ data: z.array(z.object({ merchant_id: z.string(), channel_id: z.string(), fees: Fen, network_cost: Fen, margin: Fen })) }),
      handler: async (i) => {
        const rows = await marginReport(ctx.db, i.query.from, i.query.to);
        return { body: { data: rows.map((r) => ({ ...r, fees: fenToWire(r.fees), network_cost: fenToWire(r.network_cost), margin: fenToWire(r.margin) })) } };
      },
    }),
  ];
}

const StatementOut = z.object({
  merchant_id: z.string(),
  date: z.string(),
  accounts: z
    .array(z.object({ account: z.enum(["pending", "available"]), opening: Fen, closing: Fen }))
    .describe("For each account, opening + the day's lines = closing, to the fen"),
  lines: z.array(
    z.object({
      line_type: z.string(),
      occurred_at: z.string(),
      account: z.enum(["pending", "available"]),
      amount: Fen.describe("signed fen: + owed to the merchant, − taken from it"),
      reference_id: z.string(),
      payment_id: z.string().nullable(),
      entry_id: z.string(),
      event_type: z.string(),
    }),
  ),
  totals: z.object({ credits: Fen, debits: Fen, net: Fen }).describe("The day's lines: sum of the + lines, of the − lines (as a positive number), and their sum"),
  settlements: z
    .array(
      z.object({
        settlement_id: z.string(),
        created_at: z.string(),
        status: z.string(),
        gross: Fen,
        fees: Fen,
        refunds: Fen,
        carried_in: Fen,
        net: Fen,
        item_count: z.number().int(),
        payee_merchant_id: z.string(),
      }),
    )
    .describe("The day's settlement records (their balance lines are among lines)"),
});

function statementToWire(st: Statement): z.infer<typeof StatementOut> {
  let credits = 0n;
  let debits = 0n;
  for (const l of st.lines) if (l.amount >= 0n) credits += l.amount;
  else debits -= l.amount;
  return {
    merchant_id: st.merchant_id,
    date: st.date,
    accounts: st.accounts.map((a) => ({ account: a.account, opening: fenToWire(a.opening), closing: fenToWire(a.closing) })),
    lines: st.lines.map((l) => ({ ...l, occurred_at: l.occurred_at.toISOString(), amount: fenToWire(l.amount) })),
    totals: { credits: fenToWire(credits), debits: fenToWire(debits), net: fenToWire(credits - debits) },
    settlements: st.settlements.map((r) => ({
      ...r,
      created_at: r.created_at.toISOString(),
      gross: fenToWire(r.gross),
      fees: fenToWire(r.fees),
      refunds: fenToWire(r.refunds),
      carried_in: fenToWire(r.carried_in),
      net: fenToWire(r.net),
    })),
  };
}

/** Settlement: runs, records, payout instructions, holds. */
function settlementRoutes(ctx: Ctx, proposals: Proposals, payouts: PayoutDeps): RouteDef[] {
  return [
    adminRoute({
      method: "POST",
      url: "/admin/v1/settlements/run",
      summary: "Settle what has matured by the date's cut-off, then send the settlement payouts (routed over the CNAPS rails like any payout); running it again changes nothing",
      tags: ["Admin: settlement"],
      body: z.strictObject({ date: IsoDate }),
      response: RunOut,
      handler: async (i) => {
        const summary = await runSettlement(payouts, { date: i.body.date, execute: true, operator_id: i.operator.operator_id });
        await audit(ctx, i, "settlement.run", "settlement_date", i.body.date, runToWire(summary));
        return { body: runToWire(summary) };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/settlements",
      summary: "Settlement records (every merchant ID), newest first",
      tags: ["Admin: settlement"],
      query: z.strictObject({ ...PageQuery, date: IsoDate.optional(), merchant_id: z.string().max(64).optional(), status: SettlementOut.shape.status.optional() }),
      response: listOf(SettlementOut),
      handler: async (i) => {
        const page = await listSettlements(ctx.db, { merchant_id: i.query.merchant_id, settlement_date: i.query.date, status: i.query.status, cursor: i.query.cursor, limit: i.query.limit });
        return { body: { data: page.data.map(settlementToWire), next_cursor: page.next_cursor } };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/merchants/:merchant_id/statements",
      summary: "A merchant ID's statement for one business day, as JSON: the lines GET /v1/statements gives the merchant as CSV (same builder), with totals",
      description:
        "The merchant ID's own pending and available accounts: opening and closing balances, every payment, fee, refund, fee returned, settlement and payout line of the day (signed fen, + owed to the merchant), the lines' totals, and the day's settlement records.",
      tags: ["Admin: settlement"],
      params: MerchantIdParam,
      query: z.strictObject({ date: IsoDate }),
      response: StatementOut,
      handler: async (i) => {
        // After the day's cut-off, lines already carry tomorrow's business date: tomorrow may be asked for, no later.
        const tomorrow = new Date(Date.parse(`${beijingToday(ctx.clock.now())}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
        if (i.query.date > tomorrow) throw new PaycoreError("date_in_future", `date: ${i.query.date} is after tomorrow (${tomorrow}, Beijing time): that day has no statement yet`);
        const m = await ctx.db.selectFrom("merchants").select("merchant_id").where("merchant_id", "=", i.params.merchant_id).executeTakeFirst();
        if (!m) throw notFound("merchant");
        return { body: statementToWire(await buildStatement(ctx.db, i.params.merchant_id, i.query.date)) };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/settlement-payouts",
      summary: "Payout instructions to settlement accounts, newest first",
      tags: ["Admin: settlement"],
      query: z.strictObject({ ...PageQuery, date: IsoDate.optional(), payee_merchant_id: z.string().max(64).optional() }),
      response: listOf(PayoutOut),
      handler: async (i) => {
        const page = await listPayouts(ctx.db, { settlement_date: i.query.date, payee_merchant_id: i.query.payee_merchant_id, cursor: i.query.cursor, limit: i.query.limit });
        return { body: { data: page.data.map((p) => ({ ...p, amount: fenToWire(p.amount) })), next_cursor: page.next_cursor } };
      },
    }),
    adminRoute({
      method: "POST",
      url: "/admin/v1/settlement-payouts/execute",
      summary: "Move open settlement payouts on: ask the rail about processing ones (sending again what it never got), route queued ones again",
      tags: ["Admin: settlement"],
      response: PassOut,
      handler: async (i) => {
        const pass = (await executePayouts(payouts)) ?? { attempted: 0, succeeded: 0, failed: 0, pending: 0 };
        await audit(ctx, i, "settlement.payouts_execute", "settlement_payouts", "open", pass);
        return { body: pass };
      },
    }),
    adminRoute({
      method: "POST",
      url: "/admin/v1/settlement-payouts/:instruction_id/override",
      summary: "Propose executing again an instruction that used up its attempts (four eyes: answers 202 with a proposal)",
      tags: ["Admin: settlement"],
      params: z.strictObject({ instruction_id: z.string().min(1).max(64) }),
      response: ProposalOut,
      handler: async (i) => ({ status: 202, body: await proposals.propose({ operator: i.operator, request_id: i.request_id }, PAYOUT_OVERRIDE_KIND, i.params) }),
    }),
    ...holdRoutes(ctx, proposals),
  ];
}

function holdRoutes(ctx: Ctx, proposals: Proposals): RouteDef[] {
  return [
    adminRoute({
      method: "PUT",
      url: "/admin/v1/merchants/:merchant_id/settlement-hold",
      summary: "Hold a merchant ID's payouts (risk): it is still settled, its money stays available",
      tags: ["Admin: settlement"],
      params: MerchantIdParam,
      body: z.strictObject({ reason: z.string().trim().min(1).max(256) }),
      response: z.object({ merchant_id: z.string(), held: z.literal(true), reason: z.string() }),
      handler: async (i) => {
        await holdSettlement(ctx, i.params.merchant_id, i.body.reason);
        await audit(ctx, i, "settlement.hold", "merchant", i.params.merchant_id, { reason: i.body.reason });
        return { body: { merchant_id: i.params.merchant_id, held: true, reason: i.body.reason } };
      },
    }),
    adminRoute({
      method: "DELETE",
      url: "/admin/v1/merchants/:merchant_id/settlement-hold",
      summary: "Propose releasing a settlement hold (four eyes: answers 202 with a proposal; once approved the next run pays what was held)",
      tags: ["Admin: settlement"],
      params: MerchantIdParam,
      response: ProposalOut,
      handler: async (i) => ({ status: 202, body: await proposals.propose({ operator: i.operator, request_id: i.request_id }, HOLD_RELEASE_KIND, i.params) }),
    }),
  ];
}

/** Configuration: refund fee policy and the settlement calendar. */
function configRoutes(ctx: Ctx): RouteDef[] {
  return [
    adminRoute({
      method: "PUT",
      url: "/admin/v1/refund-fee-policies/:scope",
      summary: "Refund fee policy for a merchant ID or the platform ('platform'): return the fee in proportion (default) or keep it; null removes it",
      tags: ["Admin: ledger"],
      roles: ADMIN_ONLY,
      params: z.strictObject({ scope: z.string().min(1).max(64) }),
      body: z.strictObject({ policy: z.enum(["proportional", "keep"]).nullable() }),
      response: z.object({ scope: z.string(), policy: z.enum(["proportional", "keep"]).nullable() }),
      handler: async (i) => {
        const scope = i.params.scope;
        if (scope !== PLATFORM_SCOPE) {
          const m = await ctx.db.selectFrom("merchants").select("merchant_id").where("merchant_id", "=", scope).executeTakeFirst();
          if (!m) throw notFound("merchant");
        }
        await setRefundFeePolicy(ctx.db, scope, i.body.policy, ctx.clock.now());
        await audit(ctx, i, "ledger.refund_fee_policy", "refund_fee_policy", scope, i.body);
        return { body: { scope, policy: i.body.policy } };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/settlement-calendar",
      summary: "The daily cut-off (Beijing time) and working-day exceptions",
      tags: ["Admin: settlement"],
      response: CalendarOut,
      handler: async () => ({ body: calendarToWire(await loadCalendar(ctx.db), ctx.clock.now()) }),
    }),
    adminRoute({
      method: "PATCH",
      url: "/admin/v1/settlement-calendar",
      summary: "Change the cut-off from the next open day on (a closed or settled day never changes), or mark days as holidays / make-up working days (kind null removes the exception)",
      tags: ["Admin: settlement"],
      roles: ADMIN_ONLY,
      body: z.strictObject({
        cutoff: HHMM.refine((v) => toMinutes(v) >= 1 && toMinutes(v) <= 1440, "00:01..24:00").optional(),
        days: z.array(z.strictObject({ day: IsoDate, kind: z.enum(["holiday", "working"]).nullable() })).max(400).optional(),
      }),
      response: CalendarOut,
      handler: async (i) => {
        const calendar = await updateCalendar(ctx.db, { cutoff_minutes: i.body.cutoff === undefined ? undefined : toMinutes(i.body.cutoff), days: i.body.days }, ctx.clock.now());
        await audit(ctx, i, "settlement.calendar", "settlement_calendar", "calendar", i.body);
        return { body: calendarToWire(calendar, ctx.clock.now()) };
      },
    }),
  ];
}

/**
 * Operators' ledger and settlement API. Settlement payouts go through `payouts` (the server's line
 * to the rails; without one they are recorded and the sweeper of a process that has one sends them).
 */
export function adminLedgerRoutes(ctx: Ctx, proposals: Proposals, payouts: PayoutDeps): RouteDef[] {
  proposals.register(holdReleaseKind(ctx));
  proposals.register(payoutOverrideKind(ctx));
  return [...ledgerReadRoutes(ctx), ...settlementRoutes(ctx, proposals, payouts), ...configRoutes(ctx)];
}
