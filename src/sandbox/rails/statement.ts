import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { RAILS, type Rail } from "../../kernel/cnaps/hours.ts";
import { signAsNetwork } from "../signing.ts";
import { beijingCompact, settlementDate } from "../calendar.ts";
import type { SandboxContext } from "../context.ts";
import type { StatementEntry } from "../statement-faults.ts";
import { formatLine } from "../statements.ts";
import type { RailsWorld, TransferRecord } from "./world.ts";

/**
 * The rails' daily statement files (reconciliation of payouts): one per rail and settlement day
 * (the networks' day: 23:00 Beijing cut-off), one line per credit the rail settled that day, in
 * the order it settled them. Returns are not in it (they reach paycore as pacs.004 messages).
 *
 * `GET /cnaps/statements?rail=&date=` answers, once the day is closed, one signed line naming the
 * file with its SHA-256, size and line count — signed with the rails' SM2 key, as their ISO 20022
 * messages are — and the file comes from `GET /cnaps/files/<name>`. Statement faults apply as to
 * the networks' files (`POST /sandbox/v1/statement-faults` with the rail as `channel`). Layout in
 * docs/sandbox.md; `src/channels/statement.ts` parses it.
 */
const col = (name: string, width: number, align: "left" | "right" = "left", pad: " " | "0" = " ") => ({ name, width, align, pad });

export const RAIL_COLUMNS = [
  col("record_type", 1), col("rail", 4), col("msg_id", 64), col("end_to_end_id", 64), col("amount", 15, "right", "0"),
  col("fee", 15, "right", "0"), col("settle_amount", 16, "right"), col("settled_time", 14), col("creditor_agent", 12),
] as const;

export const RAIL_CODES: Record<Rail, string> = { hvps: "HVPS", beps: "BEPS", ibps: "IBPS", bank_direct: "BDIR" };

/** A settled credit as a statement entry: a debit of the PI's reserve account (the rails charge no per-item fee here). */
function entryOf(t: TransferRecord): StatementEntry {
  return {
    kind: "pay", network_txn_id: t.msg_id, txn_id: t.msg_id, order_id: t.end_to_end_id, amount_fen: BigInt(t.amount), fee_fen: 0n,
    at: new Date(t.settled_at!), source: "network", agreement_no: "", card_number: null, trace_no: "",
  };
}

/** The day's entries (retired credits included, from the rails' archive) with the statement faults applied, and each credit's payee bank. */
export async function railStatementEntries(ctx: SandboxContext, world: RailsWorld, rail: Rail, date: string): Promise<{ entries: StatementEntry[]; agents: Map<string, string> }> {
  const settled = await world.settledOn(rail, date);
  return { entries: ctx.statement_faults.apply(rail, date, settled.map(entryOf)), agents: new Map(settled.map((t) => [t.msg_id, t.creditor.agent])) };
}

export function railStatementFile(entries: readonly StatementEntry[], rail: Rail, date: string, agents: ReadonlyMap<string, string>): string {
  // What a line moves in the PI's reserve account: a credit out is negative.
  const settle = (e: StatementEntry) => -(e.amount_fen + e.fee_fen);
  const lines = entries.map((e) =>
    formatLine(RAIL_COLUMNS, {
      record_type: "D", rail: RAIL_CODES[rail], msg_id: e.network_txn_id, end_to_end_id: e.order_id, amount: e.amount_fen.toString(),
      fee: e.fee_fen.toString(), settle_amount: settle(e).toString(), settled_time: beijingCompact(e.at), creditor_agent: agents.get(e.network_txn_id) ?? "",
    }),
  );
  const net = entries.reduce((sum, e) => sum + settle(e), 0n);
  const header = `H ${RAIL_CODES[rail]} ${date.replace(/-/g, "")} ${String(entries.length).padStart(8, "0")} ${net.toString().padStart(16, " ")}`;
  return [header, ...lines].map((line) => `${line}\n`).join("");
}

const Query = z.strictObject({ rail: z.enum(RAILS), date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/) });

export function registerRailStatementRoutes(app: FastifyInstance, ctx: SandboxContext, world: RailsWorld): void {
  app.get("/cnaps/statements", async (request, reply) => {
    const parsed = Query.safeParse(request.query);
    if (!parsed.success) return reply.code(400).type("text/plain").send("rail (hvps|beps|ibps|bank_direct) and date YYYY-MM-DD");
    const { rail, date } = parsed.data;
    const closed = settlementDate(ctx.clock.now()) > date;
    if (!closed || ctx.statement_faults.consume(rail, date, "late")) return reply.code(404).type("text/plain").send("statement not published yet");
    const { entries, agents } = await railStatementEntries(ctx, world, rail, date);
    const file = ctx.statement_files.publish(`cnaps_${rail}`, date, railStatementFile(entries, rail, date, agents));
    const text = `RAILSTMT|${rail}|${date}|${file.name}|${file.bytes}|${file.sha256}|${entries.length}`;
    let signed = `${text}{S:${signAsNetwork(text, ctx.keys.netsunion.private_key_hex).toString("base64")}}`;
    // A `bad_signature` fault: the answer altered after signing, as in transit.
    if (ctx.statement_faults.consume(rail, date, "bad_signature")) signed = signed.replace("RAILSTMT|", "RAILSTMT|X");
    return reply.type("text/plain; charset=utf-8").send(signed);
  });
  app.get<{ Params: { name: string } }>("/cnaps/files/:name", async (request, reply) => {
    const body = ctx.statement_files.get(request.params.name);
    if (!body || !request.params.name.startsWith("cnaps_")) return reply.code(404).type("text/plain").send("no such file");
    return reply.type("text/plain; charset=utf-8").send(body);
  });
}
