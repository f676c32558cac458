import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import { escapeXml } from "../wire/xml.ts";
import { fenToWire } from "../../kernel/money.ts";
import { cnapsDirectory } from "../../kernel/banks.ts";
import { BANKS, bankByCode, generateCreditElements, luhnCheckDigit, makeCardNumber, residentIdCheckChar, DEFAULT_CREDIT_DAILY_LIMIT_FEN, DEFAULT_DEBIT_DAILY_LIMIT_FEN } from "../catalogue.ts";
import type { SandboxContext } from "../context.ts";
import { FAULT_KINDS } from "../faults.ts";
import { NETWORK_IDS, OPERATIONS, type Card } from "../model.ts";
import { RAILS } from "../../kernel/cnaps/hours.ts";
import { Rng } from "../rng.ts";
import { SmsInbox } from "../sms.ts";
import { settlementDate } from "../calendar.ts";
import { STATEMENT_FAULT_KINDS, STATEMENT_FAULT_LIMITS } from "../statement-faults.ts";
import { statementEntries, statementFile, statementNetFen } from "../statements.ts";
import { fenWire } from "../../kernel/money-wire.ts";

/** Mutable settings of a running sandbox. */
export interface SandboxSettings {
  seed: number;
}

const INBOX_PAGE_MESSAGES_MAX = 100;
const DEFAULT_NEW_CARD_BALANCE_FEN = 1_000_000n;

function badRequest(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(400).send({ error: { code: "invalid_request", message } });
}

function parse<T>(schema: z.ZodType<T>, input: unknown, reply: FastifyReply): T | null {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  void badRequest(reply, result.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "));
  return null;
}

export function cardToWire(card: Card): Record<string, unknown> {
  const bank = bankByCode(card.bank_code);
  return {
    card_number: card.card_number, holder_name: card.holder_name, id_number: card.id_number, phone: card.phone,
    bank_code: card.bank_code, bank_name: bank?.bank_name ?? card.bank_code, card_type: card.card_type, unified: bank?.unified ?? false,
    status: card.status, balance: fenToWire(card.balance_fen), daily_limit: fenToWire(card.daily_limit_fen),
    ...(card.card_type === "credit" ? { cvn2: card.cvn2, expiry: card.expiry } : {}),
  };
}

function realDate(yyyymmdd: string): boolean {
  const at = new Date(`${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6)}T00:00:00Z`);
  return !Number.isNaN(at.getTime()) && at.toISOString().slice(0, 10).replace(/-/g, "") === yyyymmdd && yyyymmdd >= "19000101";
}

const phone = z.string().regex(/^1[3-9]\d{9}$/, "an 11-digit mainland mobile number");
const fen = fenWire(0);
const NewCardSchema = z.object({
  card_number: z.string().regex(/^62\d{14,17}$/, "16-19 digits starting with 62").refine((n) => luhnCheckDigit(n.slice(0, -1)) === n.slice(-1), "fails the Luhn check").optional(),
  holder_name: z.string().min(1).max(64),
  id_number: z.string().regex(/^\d{17}[\dX]$/, "18 characters")
    .refine((n) => realDate(n.slice(6, 14)), "birth date is not a real date")
    .refine((n) => residentIdCheckChar(n.slice(0, 17)) === n[17], "wrong check character"),
  phone,
  bank_code: z.string().refine((code) => bankByCode(code) !== undefined, `one of ${BANKS.map((b) => b.bank_code).join(", ")}`),
  card_type: z.enum(["debit", "credit"]),
  status: z.enum(["normal", "frozen", "lost"]).default("normal"),
  balance: fen.optional(),
  daily_limit: fen.optional(),
  cvn2: z.string().regex(/^\d{3}$/).optional(),
  expiry: z.string().regex(/^(0[1-9]|1[0-2])\d{2}$/, "MMYY").optional(),
  // Derived from bank_code; accepted so a card from GET can be posted back, and checked to agree.
  bank_name: z.string().max(64).optional(),
  unified: z.boolean().optional(),
}).strict();

const FaultSchema = z.object({
  channel: z.enum([...NETWORK_IDS, ...RAILS, "*"]),
  operation: z.enum([...OPERATIONS, "*"]),
  kind: z.enum(FAULT_KINDS),
  rate: z.number().min(0).max(1).default(1),
  latency_ms: z.number().int().min(0).max(60_000).default(0),
  decline_code: z.string().regex(/^[A-Za-z0-9_]{1,32}$/).nullable().default(null),
  seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
}).strict();

export function registerCardRoutes(app: FastifyInstance, ctx: SandboxContext, settings: SandboxSettings): void {
  const rng = Rng.derive(settings.seed, "added-cards");
  app.get("/sandbox/v1/cards", async () => ({ data: [...ctx.engine.cards.values()].map(cardToWire) }));
  app.post("/sandbox/v1/cards", async (request, reply) => {
    const body = parse(NewCardSchema, request.body, reply);
    if (!body) return reply;
    const bank = bankByCode(body.bank_code)!;
    if (body.bank_name !== undefined && body.bank_name !== bank.bank_name) return badRequest(reply, `bank_name: ${bank.bank_code} is ${bank.bank_name}, not ${body.bank_name}`);
    if (body.unified !== undefined && body.unified !== bank.unified) return badRequest(reply, `unified: ${bank.bank_code}'s registries are ${bank.unified ? "" : "not "}unified`);
    const credit = body.card_type === "credit";
    const card_number = body.card_number ?? makeCardNumber(rng, credit ? bank.credit_bin : bank.debit_bin, credit ? bank.credit_length : bank.debit_length);
    if (ctx.engine.cards.has(card_number)) return reply.code(409).send({ error: { code: "conflict", message: "a card with this number exists" } });
    const generated = credit ? generateCreditElements(rng) : { cvn2: null, expiry: null };
    const card: Card = {
      card_number, holder_name: body.holder_name, id_number: body.id_number, phone: body.phone, bank_code: bank.bank_code,
      card_type: body.card_type, status: body.status, balance_fen: BigInt(body.balance ?? Number(DEFAULT_NEW_CARD_BALANCE_FEN)),
      daily_limit_fen: BigInt(body.daily_limit ?? Number(credit ? DEFAULT_CREDIT_DAILY_LIMIT_FEN : DEFAULT_DEBIT_DAILY_LIMIT_FEN)),
      cvn2: credit ? (body.cvn2 ?? generated.cvn2) : null, expiry: credit ? (body.expiry ?? generated.expiry) : null,
    };
    ctx.engine.addCard(card);
    return reply.code(201).send(cardToWire(card));
  });
  app.get("/sandbox/v1/banks", async () => ({ data: BANKS.map(bankToWire) }));
}

/** A bank with its branches in the CNAPS directory (the one paycore validates payouts against). */
function bankToWire(b: (typeof BANKS)[number]) {
  const branches = cnapsDirectory().filter((p) => p.bank_code === b.bank_code);
  return {
    bank_code: b.bank_code,
    bank_name: b.bank_name,
    cnaps_prefix: b.cnaps_prefix,
    unified: b.unified,
    branches: branches.map((p) => ({ cnaps_code: p.cnaps_code, city: p.city, branch_name: p.branch_name, ibps: p.ibps })),
  };
}

export function registerSmsRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  app.get("/sandbox/v1/sms", async (request, reply) => {
    const query = parse(z.object({ phone }), request.query, reply);
    if (!query) return reply;
    return { data: ctx.engine.sms.forPhone(query.phone).map((m) => ({ at: m.at.toISOString(), text: m.text, otp: m.otp })) };
  });
  // paycore's own messages (step-up codes, campaign invitations) land in the same inbox.
  app.post("/sandbox/v1/sms", async (request, reply) => {
    const body = parse(z.object({ phone, text: z.string().min(1).max(500), otp: z.string().regex(/^\d{4,8}$/).optional() }).strict(), request.body, reply);
    if (!body) return reply;
    const message = { at: ctx.clock.now(), phone: body.phone, text: body.text, otp: body.otp ?? SmsInbox.otpIn(body.text) };
    ctx.engine.sms.send(message);
    return reply.code(201).send({ at: message.at.toISOString(), text: message.text, otp: message.otp });
  });
  app.get("/sandbox/inbox", async (_request, reply) => {
    const rows = ctx.engine.sms.recent(INBOX_PAGE_MESSAGES_MAX)
      .map((m) => `<tr><td>${m.at.toISOString()}</td><td>${escapeXml(m.phone)}</td><td>${escapeXml(m.text)}</td><td><b>${escapeXml(m.otp ?? "")}</b></td></tr>`)
      .join("");
    const page = `<!doctype html><html lang="zh"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>Sandbox SMS inbox</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head>
<body><h1>Sandbox SMS inbox</h1><p>Test network only: the newest ${INBOX_PAGE_MESSAGES_MAX} messages, newest first. Refreshes every 5 s.</p>
<table><thead><tr><th>Time (UTC)</th><th>Phone</th><th>Text</th><th>Code</th></tr></thead><tbody>${rows}</tbody></table></body></html>`;
    return reply.type("text/html; charset=utf-8").send(page);
  });
}

export function registerFaultRoutes(app: FastifyInstance, ctx: SandboxContext, settings: SandboxSettings): void {
  app.post("/sandbox/v1/faults", async (request, reply) => {
    const body = parse(FaultSchema, request.body, reply);
    if (!body) return reply;
    if (body.kind === "latency" && body.latency_ms === 0) return badRequest(reply, "latency_ms: a latency fault needs latency_ms > 0");
    const rule = ctx.faults.add({ ...body, seed: body.seed ?? settings.seed + ctx.faults.list().length + 1 });
    return reply.code(201).send(rule);
  });
  app.get("/sandbox/v1/faults", async () => ({ data: ctx.faults.list() }));
  const reset = async () => {
    ctx.faults.clear();
    return { data: [] };
  };
  app.delete("/sandbox/v1/faults", reset);
  app.post("/sandbox/v1/faults/reset", reset);
}

export function registerNetworkControlRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  app.post("/sandbox/v1/unbind-notice", async (request, reply) => {
    const body = parse(z.object({ channel: z.enum(NETWORK_IDS), card_number: z.string().regex(/^\d{12,19}$/) }).strict(), request.body, reply);
    if (!body) return reply;
    const ended = ctx.engine.unbindByHolder(body.channel, body.card_number);
    if (ended.length === 0) return reply.code(404).send({ error: { code: "not_found", message: "no active agreement for this card on this channel" } });
    const plan = ctx.faults.plan(body.channel, "unbind");
    for (const agreement of ended) {
      ctx.notifier.send({ type: "agreement_unbound", notification_id: ctx.notifier.nextId(body.channel), network: body.channel, agreement }, plan.duplicate_notify ? 2 : 1);
    }
    return { data: ended.map((a) => ({ channel: a.network, agreement_no: a.agreement_no, unbound_at: a.unbound_at?.toISOString() ?? null })) };
  });
  app.get("/sandbox/v1/statements", async (request, reply) => {
    const query = parse(z.object({ channel: z.enum(NETWORK_IDS), date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/), institution_id: z.string().max(32).default("") }), request.query, reply);
    if (!query) return reply;
    return reply.type("text/plain; charset=utf-8").send(await statementFile(ctx.engine, query.channel, query.date, query.institution_id, ctx.statement_faults));
  });
  registerStatementFaultRoutes(app, ctx);
  app.get("/sandbox/v1/config", async () => ({ paycore_callback_url: ctx.notifier.callback_url }));
  app.put("/sandbox/v1/config", async (request, reply) => {
    const body = parse(z.object({ paycore_callback_url: z.url({ protocol: /^https?$/ }).max(2048).nullable() }).strict(), request.body, reply);
    if (!body) return reply;
    ctx.notifier.callback_url = body.paycore_callback_url;
    return { paycore_callback_url: ctx.notifier.callback_url };
  });
  app.get("/sandbox/v1/notifications", async () => ({ data: ctx.notifier.deliveries() }));
  // How large the world is: transactions in memory, retired ones, the archive on disk (soaks, tests).
  app.get("/sandbox/v1/world", async () => ({
    records_in_memory: ctx.engine.records_in_memory, records_retired: ctx.engine.retired_count, archive_bytes: ctx.engine.archive.bytes,
  }));
  app.get("/sandbox/v1/keys", async () => ({
    netsunion: { key_id: ctx.keys.netsunion.key_id, public_key_hex: ctx.keys.netsunion.public_key_hex },
    unionpay: { cert_id: ctx.keys.unionpay.cert_id, certificate_pem: ctx.keys.unionpay.certificate_pem },
  }));
}

const IsoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/).refine((d) => realDate(d.replace(/-/g, "")), "a real date YYYY-MM-DD");

/**
 * Statement faults (reconciliation tests) and the networks' settlement transfers: once a day is
 * closed, each network pays the PI's reserve account the net of that day's file.
 */
function registerStatementFaultRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  app.post("/sandbox/v1/statement-faults", async (request, reply) => {
    const schema = z.strictObject({ channel: z.enum([...NETWORK_IDS, ...RAILS]), date: IsoDate, kind: z.enum(STATEMENT_FAULT_KINDS), count: z.number().int().min(1).max(STATEMENT_FAULT_LIMITS.count_max).default(1) });
    const body = parse(schema, request.body, reply);
    if (!body) return reply;
    return reply.code(201).send(ctx.statement_faults.add(body));
  });
  app.get("/sandbox/v1/statement-faults", async () => ({ data: ctx.statement_faults.list() }));
  app.delete("/sandbox/v1/statement-faults", async () => {
    ctx.statement_faults.clear();
    return { data: [] };
  });
  app.get("/sandbox/v1/network-settlements", async (request, reply) => {
    const query = parse(z.object({ channel: z.enum(NETWORK_IDS), date: IsoDate }), request.query, reply);
    if (!query) return reply;
    const closed = settlementDate(ctx.clock.now()) > query.date;
    const entries = await statementEntries(ctx.engine, ctx.statement_faults, query.channel, query.date);
    return {
      channel: query.channel, date: query.date, transfer_id: `nst_${query.channel}_${query.date.replace(/-/g, "")}`,
      status: closed ? "settled" : "pending", amount: fenToWire(statementNetFen(entries)), line_count: entries.length,
    };
  });
}
