import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import type { AddressInfo } from "node:net";
import { systemClock, type Clock } from "../kernel/clock.ts";
import { createLogger, type Logger } from "../kernel/log.ts";
import { warmSm2Tables } from "../kernel/crypto/index.ts";
import type { SandboxContext, WireAnswer } from "./context.ts";
import { RecordArchive } from "./archive.ts";
import { Engine } from "./engine.ts";
import { Faults } from "./faults.ts";
import { registerBankTransferRoutes } from "./bank-transfers.ts";
import { gatewayServerFactory, type GatewayHandler } from "./http/gateway.ts";
import { registerCardRoutes, registerFaultRoutes, registerNetworkControlRoutes, registerSmsRoutes } from "./http/public.ts";
import { PeerKeys, loadOrCreateNetworkKeys } from "./keys.ts";
import { CapacityError, SANDBOX_LIMITS } from "./limits.ts";
import type { NetworkId } from "./model.ts";
import { Notifier, type NotificationEncoder } from "./notifier.ts";
import { SandboxState } from "./persistence.ts";
import { SeenMessages } from "./replay.ts";
import { StatementFaults, type StatementFaultsState } from "./statement-faults.ts";
import { encodeNetsUnionNotification, handleNetsUnion } from "./wire/netsunion.ts";
import { encodeUnionPayNotification, handleUnionPay } from "./wire/unionpay.ts";
import { RailCalendar } from "../kernel/cnaps/hours.ts";
import { registerRailRoutes } from "./rails/http.ts";
import { registerRailStatementRoutes } from "./rails/statement.ts";
import { StatementFiles } from "./statement-files.ts";
import { RailsWorld, type RailsConfig } from "./rails/world.ts";

export { EXCHANGE_FILES } from "./keys.ts";
export { NETWORK_IDS, type NetworkId } from "./model.ts";

export const DEFAULT_SANDBOX_SEED = 20180502;
export const DEFAULT_SANDBOX_PORT = 3100;

export interface SandboxOptions {
  host?: string;
  /** 0 = an ephemeral port. */
  port?: number;
  /** Keys live in `<data_dir>/sandbox/keys` (private) and `<data_dir>/keys` (exchanged). */
  data_dir: string;
  seed?: number;
  clock?: Clock;
  /** Base URL; notifications go to `<paycore_callback_url>/<channel_id>`. */
  paycore_callback_url?: string;
  log?: Logger;
  /** Keep the sandbox's world in `<data_dir>/sandbox/state` (default); false keeps nothing. */
  keep_state?: boolean;
  rails?: RailOptions;
  /** How much of the world stays in memory (tests make it small; src/sandbox/engine.ts). */
  world?: WorldOptions;
}

export interface WorldOptions {
  /** Transactions in memory at most (`records_max`). */
  records_max?: number;
  /** A transaction stays in memory this long, then is retired (`records_retention_ms`). */
  records_retention_ms?: number;
  /** The state journal is folded past this size (`state_journal_bytes_max`). */
  journal_bytes_max?: number;
  /** Agreements (active, or unbound within the retention) at most (`agreements_max`). */
  agreements_max?: number;
  /** The rails' transfers in memory, of them in flight, and deposits in memory (`RAIL_LIMITS`; the retention is `records_retention_ms`). */
  rail_transfers_max?: number;
  rail_in_flight_max?: number;
  rail_deposits_max?: number;
}

/** How the CNAPS rails behave; tests shorten the waits. */
export interface RailOptions {
  /** `cn` (the published holidays, default) or `test`. */
  calendar?: string;
  beps_batch_interval_ms?: number;
  return_delay_ms?: number;
  forward_delay_ms?: number;
  tick_ms?: number;
}

export const DEFAULT_RAIL_OPTIONS = { calendar: "cn", beps_batch_interval_ms: 120_000, return_delay_ms: 5_000, forward_delay_ms: 2_000, tick_ms: 200 } as const;

/** The institution's reserve account at its reserve bank (ICBC in the sandbox). */
export const SANDBOX_RESERVE_ACCOUNT = { name: "paycore 支付机构备付金", account: "1022000000000001", agent: "102100099996" } as const;

export interface RunningSandbox {
  url: string;
  close(): Promise<void>;
}

const GATEWAY_PATHS = {
  netsunion: ["/netsunion/gateway"],
  unionpay: ["/unionpay/gateway/api/backTransReq.do", "/unionpay/gateway/api/queryTrans.do", "/unionpay/gateway/api/fileTransReq.do"],
} as const;

/**
 * Starts the sandbox networks: NetsUnion and UnionPay gateways, the banks behind them, the SMS
 * gateway, and the control endpoints (docs/sandbox.md). The world starts deterministic from the
 * seed and is kept in the data directory (src/sandbox/persistence.ts) unless `keep_state` is false.
 */
export async function startSandbox(options: SandboxOptions): Promise<RunningSandbox> {
  const clock = options.clock ?? systemClock;
  const seed = options.seed ?? DEFAULT_SANDBOX_SEED;
  const log = options.log ?? createLogger(process.env.SANDBOX_LOG_LEVEL ?? "warn");
  const keys = loadOrCreateNetworkKeys(options.data_dir, clock.now());
  const encoders = {} as Record<NetworkId, NotificationEncoder>;
  const world = options.world ?? {};
  const state = options.keep_state === false ? SandboxState.inMemory() : SandboxState.open(options.data_dir, log, world.journal_bytes_max ? { journal_bytes_max: world.journal_bytes_max } : {});
  const archive = state.archive_dir ? RecordArchive.open(state.archive_dir) : RecordArchive.inMemory();
  const engine = new Engine(seed, clock, state, {
    archive, ...pick(world, ["records_max", "records_retention_ms", "agreements_max"]),
  });
  const ctx: SandboxContext = {
    engine, state, faults: new Faults(), keys, peers: new PeerKeys(options.data_dir), seen: new SeenMessages(),
    notifier: new Notifier(options.paycore_callback_url ?? null, encoders, clock, log, state.table<number>("notifier.counters")), clock, log,
    statement_faults: StatementFaults.persisted(state.table<StatementFaultsState>("reconciliation.statement_faults")),
    statement_files: new StatementFiles(),
  };
  encoders.netsunion = (event, now) => encodeNetsUnionNotification(ctx, event, now);
  encoders.unionpay_nocard = (event, now) => encodeUnionPayNotification(ctx, event, now);
  encoders.unionpay_quickpay = encoders.unionpay_nocard;

  const held = new Set<NodeJS.Timeout>();
  const gateway_routes = new Map<string, GatewayHandler>();
  for (const path of GATEWAY_PATHS.netsunion) gateway_routes.set(path, (raw) => handleNetsUnion(ctx, raw));
  for (const path of GATEWAY_PATHS.unionpay) gateway_routes.set(path, (raw) => handleUnionPay(ctx, raw));
  // The gateways' ordinary messages are served under Fastify (src/sandbox/http/gateway.ts); the rest through it.
  const serverFactory = gatewayServerFactory({ routes: gateway_routes, beforeAnswer: () => state.flush(), held, log });
  const app = Fastify({ logger: false, bodyLimit: SANDBOX_LIMITS.message_bytes_max, forceCloseConnections: true, serverFactory });
  // No answer leaves before the journal lines of the changes it may report are written (persistence.ts).
  app.addHook("onSend", (_request, _reply, payload, done) => {
    try {
      state.flush();
    } catch (error) {
      return done(error as Error);
    }
    done(null, payload);
  });
  registerParsers(app);
  registerGateways(app, ctx, held);
  registerCardRoutes(app, ctx, { seed });
  registerSmsRoutes(app, ctx);
  registerFaultRoutes(app, ctx, { seed });
  registerNetworkControlRoutes(app, ctx);
  registerBankTransferRoutes(app, () => clock.now(), state);
  const rails = RailsWorld.load(state, railsConfig(options.rails), clock, {
    ...(world.rail_transfers_max ? { transfers_max: world.rail_transfers_max } : {}),
    ...(world.rail_in_flight_max ? { in_flight_max: world.rail_in_flight_max } : {}),
    ...(world.rail_deposits_max ? { deposits_max: world.rail_deposits_max } : {}),
    ...(world.records_retention_ms ? { retention_ms: world.records_retention_ms } : {}),
  });
  const stopRails = registerRailRoutes(app, ctx, rails, options.rails?.tick_ms ?? DEFAULT_RAIL_OPTIONS.tick_ms, () => rails.save());
  registerRailStatementRoutes(app, ctx, rails);
  app.get("/healthz", async () => ({ status: "ok" }));
  app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
    if (error instanceof CapacityError) return reply.code(503).send({ error: { code: "capacity", message: error.message } });
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) log.error({ err: error }, "sandbox request failed");
    return reply.code(status).send({ error: { code: status === 500 ? "internal" : "invalid_request", message: status === 500 ? "internal error" : error.message } });
  });

  try {
    // G's SM2 tables before the first message is signed, not inside paycore's call timeout.
    warmSm2Tables();
    await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? DEFAULT_SANDBOX_PORT });
  } catch (err) {
    stopRails();
    state.close();
    throw err;
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    async close() {
      ctx.notifier.close();
      stopRails();
      for (const timer of held) clearTimeout(timer);
      held.clear();
      await app.close();
      state.close();
    },
  };
}

function registerParsers(app: FastifyInstance): void {
  const asText = (_request: unknown, body: string, done: (error: Error | null, value?: string) => void) => done(null, body);
  app.addContentTypeParser(["application/xml", "text/xml", "application/x-www-form-urlencoded", "text/plain"], { parseAs: "string" }, asText);
}

function registerGateways(app: FastifyInstance, ctx: SandboxContext, held: Set<NodeJS.Timeout>): void {
  const serve = (handler: (ctx: SandboxContext, raw: string) => Promise<WireAnswer>) => async (request: { body: unknown }, reply: FastifyReply) => {
    if (typeof request.body !== "string") return reply.code(400).send({ error: { code: "invalid_request", message: "send the message as text (application/xml or application/x-www-form-urlencoded)" } });
    const answer = await handler(ctx, request.body);
    if (answer.kind === "answer") return reply.code(answer.status).type(answer.content_type).send(answer.body);
    // A `timeout` fault: the request was processed but no answer ever comes; the socket is dropped later.
    reply.hijack();
    const timer = setTimeout(() => {
      held.delete(timer);
      reply.raw.destroy();
    }, SANDBOX_LIMITS.timeout_hold_ms);
    timer.unref();
    held.add(timer);
    return reply;
  };
  for (const path of GATEWAY_PATHS.netsunion) app.post(path, serve(handleNetsUnion));
  for (const path of GATEWAY_PATHS.unionpay) app.post(path, serve(handleUnionPay));
  // Statement files named by a signed statement answer (src/sandbox/statement-files.ts).
  const file = async (request: { params: { name: string } }, reply: FastifyReply) => {
    const body = ctx.statement_files.get(request.params.name);
    if (!body) return reply.code(404).type("text/plain").send("no such file");
    return reply.type("text/plain; charset=utf-8").send(body);
  };
  app.get<{ Params: { name: string } }>("/netsunion/files/:name", file);
  app.get<{ Params: { name: string } }>("/unionpay/gateway/api/files/:name", file);
}

/** The fields of `from` named in `keys` that are set. */
function pick<T extends object, K extends keyof T>(from: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (from[key] !== undefined) out[key] = from[key];
  return out;
}

function railsConfig(options: RailOptions = {}): RailsConfig {
  const o = { ...DEFAULT_RAIL_OPTIONS, ...options };
  return {
    calendar: RailCalendar.named(o.calendar),
    beps_batch_interval_ms: o.beps_batch_interval_ms,
    return_delay_ms: o.return_delay_ms,
    forward_delay_ms: o.forward_delay_ms,
    reserve_bank_prefix: SANDBOX_RESERVE_ACCOUNT.agent.slice(0, 3),
    reserve_account: { ...SANDBOX_RESERVE_ACCOUNT },
  };
}
