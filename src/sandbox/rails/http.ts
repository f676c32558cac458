import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import { cnapsParticipant } from "../../kernel/banks.ts";
import { AMOUNT_FEN_MAX } from "../../kernel/money.ts";
import { RAILS } from "../../kernel/cnaps/hours.ts";
import { openMessage, signMessage, type CnapsMessage, type StatusReport } from "../../kernel/cnaps/iso20022.ts";
import type { SandboxContext } from "../context.ts";
import { deliveryError, postToPaycore } from "../http-client.ts";
import { RAIL_LIMITS, type RailsWorld } from "./world.ts";

const PUSH_TIMEOUT_MS = 5_000;
const PUSH_BACKOFF_MS_MAX = 30_000;
const XML = "application/xml; charset=utf-8";

const party = z.strictObject({
  account_name: z.string().min(1).max(128),
  account_number: z.string().regex(/^\d{8,32}$/, "8-32 digits"),
  bank_code: z
    .string()
    .regex(/^\d{12}$/, "12-digit CNAPS code")
    .refine((code) => cnapsParticipant(code) !== undefined, "not a participant in the CNAPS bank directory"),
});
const RailControl = z.strictObject({
  status: z.enum(["open", "closed", "schedule"]).optional(),
  per_item_max: z.number().int().min(1).max(Number(AMOUNT_FEN_MAX)).nullable().optional(),
  resend: z.enum(["original", "dupl"]).optional(),
});
const PayeeBody = party.extend({ behaviour: z.enum(["accept", "reject", "return"]) });
const DepositBody = z.strictObject({ merchant_id: z.string().min(1).max(64), amount: z.number().int().min(1).max(Number(AMOUNT_FEN_MAX)), payer: party });

function parse<T>(schema: z.ZodType<T>, input: unknown, reply: FastifyReply): T | null {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  void reply.code(400).send({ error: { code: "invalid_request", message: result.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ") } });
  return null;
}

/**
 * HTTP face of the rails: the signed message gateway paycore talks to (`POST /cnaps/gateway`),
 * the control endpoints of docs/sandbox.md (rails, payees, deposits), and a ticker that settles
 * BEPS batches, sends returns and pushes messages to paycore at `<callback_url>/cnaps`.
 */
export function registerRailRoutes(app: FastifyInstance, ctx: SandboxContext, world: RailsWorld, tick_ms: number, save: () => void): () => void {
  const sign = (m: CnapsMessage) => signMessage(m, ctx.keys.netsunion.private_key_hex);
  const enqueue = (m: CnapsMessage) => {
    if (world.state.outbox.length >= RAIL_LIMITS.outbox_max) return ctx.log.warn({ msg_id: m.msg_id }, "rail message dropped: outbox full");
    world.state.outbox.push({ message: m, attempts: 0, next_at_ms: 0 });
  };

  app.post("/cnaps/gateway", async (request, reply) => {
    const peer = ctx.peers.netsunion();
    if (typeof request.body !== "string" || !peer) return reply.code(400).type("text/plain").send("send a signed message as application/xml");
    const opened = openMessage(request.body, peer.public_key_hex);
    if (!opened.ok) return reply.code(400).type("text/plain").send(`${opened.reason}: ${opened.detail}`);
    const m = opened.message;
    if (m.type === "pacs.008") {
      const plan = ctx.faults.plan(m.rail, "pay");
      // A message id of a retired transfer is still that transfer (its archived state).
      const retired = await world.retiredTransfer(m.msg_id);
      const answer = world.receive(m, retired);
      save(); // kept before the answer leaves: a settled credit survives a restart
      if (plan.timeout) return dropAnswer(reply);
      const record = world.transfer(m.msg_id) ?? (typeof retired === "object" ? retired : undefined);
      const report = record ? world.statusReport(record) : world.duplicateReport(m);
      return reply.type(XML).send(sign(answer.reason === "DUPL" ? { ...report, status: "RJCT", reason: "DUPL", settled_at: null } : report));
    }
    if (m.type === "pacs.028") {
      const record = await world.findTransfer(m.original_msg_id); // a retired one from the archive
      const plan = record ? ctx.faults.plan(record.rail, "query") : null;
      if (!record || plan?.decline) return reply.code(404).type("text/plain").send("no such transfer");
      if (plan?.timeout) return dropAnswer(reply);
      return reply.type(XML).send(sign(world.statusReport(record)));
    }
    if (m.type === "pacs.004") {
      const answer = await world.returnDeposit(m.original_msg_id, m.amount);
      save();
      const report: StatusReport = { type: "pacs.002", msg_id: world.nextId("R"), created_at: ctx.clock.now(), original_msg_id: m.msg_id, end_to_end_id: m.end_to_end_id, status: answer.status, reason: answer.reason, settled_at: answer.status === "ACSC" ? ctx.clock.now() : null };
      return reply.type(XML).send(sign(report));
    }
    return reply.code(400).type("text/plain").send(`malformed: the rails do not take ${m.type} from a participant`);
  });

  app.get("/sandbox/v1/rails", async () => ({ calendar: world.config.calendar.name, data: world.railViews() }));
  app.post<{ Params: { rail: string } }>("/sandbox/v1/rails/:rail", async (request, reply) => {
    const rail = RAILS.find((r) => r === request.params.rail);
    if (!rail) return reply.code(404).send({ error: { code: "not_found", message: `rails: ${RAILS.join(", ")}` } });
    const body = parse(RailControl, request.body, reply);
    if (!body) return reply;
    if (body.status) world.force(rail, body.status);
    if (body.resend) world.setResend(rail, body.resend);
    if (body.per_item_max !== undefined) world.state.caps[rail] = body.per_item_max === null ? null : String(body.per_item_max);
    save();
    return world.railViews().find((v) => v.rail === rail);
  });
  app.post("/sandbox/v1/payees", async (request, reply) => {
    const body = parse(PayeeBody, request.body, reply);
    if (!body) return reply;
    world.setPayee(body.bank_code, body.account_number, body.account_name, body.behaviour);
    save();
    return reply.code(201).send(body);
  });
  app.get<{ Querystring: { account_number?: string } }>("/sandbox/v1/rails/credits", async (request, reply) => {
    const account = request.query.account_number;
    if (!account || !/^\d{8,32}$/.test(account)) return reply.code(400).send({ error: { code: "invalid_request", message: "account_number: 8-32 digits" } });
    return { data: (await world.creditsTo(account)).map((t) => ({ msg_id: t.msg_id, end_to_end_id: t.end_to_end_id, rail: t.rail, amount: Number(t.amount), settled_at: t.settled_at, returned_at: t.returned_at })) };
  });
  app.post("/sandbox/v1/deposits", async (request, reply) => {
    const body = parse(DepositBody, request.body, reply);
    if (!body) return reply;
    const payer = { name: body.payer.account_name, account: body.payer.account_number, agent: body.payer.bank_code };
    const { record, notice } = world.deposit(body.merchant_id, BigInt(body.amount), payer);
    enqueue(notice);
    save();
    return reply.code(201).send({ deposit_id: record.deposit_id, status: record.status, received_at: record.received_at });
  });
  app.get("/sandbox/v1/deposits", async () => ({ data: (await world.listDeposits()).map((d) => ({ ...d, amount: Number(d.amount) })) }));
  // How large the rails' world is: transfers and deposits in memory, in flight, retired, the archive on disk.
  app.get("/sandbox/v1/rails/world", async () => world.counts);

  let pushing = false;
  let stopped = false;
  const persist = () => {
    if (!stopped) save(); // a push that finishes after close has nowhere to be kept
  };
  const timer = setInterval(() => {
    if (pushing) return;
    pushing = true;
    const produced = world.tick(Date.now());
    for (const m of produced) enqueue(m);
    if (produced.length > 0) persist();
    if (!stopped) world.retire(); // its rows' deletions are journalled as they happen
    if (world.state.outbox.length === 0) {
      pushing = false;
      return;
    }
    void push(ctx, world, sign)
      .then(persist)
      .finally(() => (pushing = false));
  }, tick_ms);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** A `timeout` fault: the message was applied, and its answer is lost (the connection drops, no status report). */
function dropAnswer(reply: FastifyReply): FastifyReply {
  reply.hijack();
  reply.raw.destroy();
  return reply;
}

/** Delivers queued messages in order, each until paycore answers 2xx (bounded attempts, growing waits). */
async function push(ctx: SandboxContext, world: RailsWorld, sign: (m: CnapsMessage) => string): Promise<void> {
  const base = ctx.notifier.callback_url;
  if (!base) return;
  ctx.state.flush(); // the pushes report changes: their journal lines are written first
  const now_ms = Date.now();
  for (const item of [...world.state.outbox]) {
    if (item.next_at_ms > now_ms) continue;
    item.attempts += 1;
    const posted = await postToPaycore(`${base.replace(/\/+$/, "")}/cnaps`, "application/xml", sign(item.message), PUSH_TIMEOUT_MS);
    const delivered = deliveryError(posted) === null;
    if (delivered || item.attempts >= RAIL_LIMITS.push_attempts_max) {
      world.state.outbox.splice(world.state.outbox.indexOf(item), 1);
      if (!delivered) ctx.log.warn({ msg_id: item.message.msg_id }, "rail message given up after retries");
    } else {
      item.next_at_ms = now_ms + Math.min(PUSH_BACKOFF_MS_MAX, 250 * 2 ** item.attempts);
    }
  }
}
