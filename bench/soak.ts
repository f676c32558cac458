/**
 * A long soak with faults (issue 15, docs/reliability.md). `npm run soak -- --minutes N`:
 *
 * 1. a PostgreSQL cluster of its own (initdb in a temporary directory; `--database URL` uses an
 *    existing empty database instead), the sandbox in this process, `paycore start` as a child
 *    process (its RSS is what is sampled), and a webhook receiver of our own on 127.0.0.1;
 * 2. one merchant ID (agreement payments and payouts) whose notify_url is the receiver, funded by a
 *    deposit, and high-balance sandbox cards signed before the faults start;
 * 3. for N minutes, `--clients` workers drive payments, partial refunds, payouts and new signings,
 *    while the sandbox applies every fault kind (timeout, unknown outcome, decline, duplicate
 *    notification, latency) at `--fault-rate` each to signing, payments and refunds; the webhook
 *    receiver answers 503 for the middle part of the run (30 % to 45 % of it);
 * 4. the faults are cleared (the networks recover) and the run drains: every payment, refund and
 *    payout must end final through paycore's own sweeper and notifications, every event delivered;
 * 5. checks, each printed with its figures: every object final; each card's balance at the network
 *    equals its opening balance minus succeeded payments plus succeeded refunds, to the fen; exactly
 *    one event id per (object, event type), every event delivered and received, repeats only as
 *    retries of the same id; the trial balance and `ledger check` hold; RSS trend.
 *
 * Exits 1 when a check fails. Nothing here asserts a speed. `--seed` replays the same load choices
 * and fault draws (timing still differs). `--out FILE` also writes the report as JSON.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { PaycoreClient, type Credentials } from "../src/client/index.ts";
import { createLogger } from "../src/kernel/log.ts";
import { startSandbox, type RunningSandbox } from "../src/sandbox/index.ts";
import { Rng } from "../src/sandbox/rng.ts";
import { testUscc } from "../test/support/app.ts";
import { startCli, type RunningCli } from "../test/support/cli.ts";
import { startPrivateCluster, type PrivateCluster } from "../test/support/private-pg.ts";
import { residentId } from "../test/support/sandbox.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const { values: args } = parseArgs({
  options: {
    minutes: { type: "string", default: "30" },
    clients: { type: "string", default: "6" },
    cards: { type: "string", default: "24" },
    "fault-rate": { type: "string", default: "0.1" },
    seed: { type: "string" },
    database: { type: "string" },
    "drain-minutes": { type: "string", default: "20" },
    out: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log("npm run soak -- [--minutes 30] [--clients 6] [--cards 24] [--fault-rate 0.1] [--seed N] [--database URL] [--drain-minutes 20] [--out report.json]");
  process.exit(0);
}
const MINUTES = positive("minutes");
const CLIENTS = Math.round(positive("clients"));
const CARDS = Math.round(positive("cards"));
const FAULT_RATE = Number(args["fault-rate"]);
const DRAIN_MS = positive("drain-minutes") * 60_000;
const SEED = args.seed ? Number(args.seed) : Math.floor(Math.random() * 2 ** 31);
if (!(FAULT_RATE >= 0 && FAULT_RATE <= 1)) fail("--fault-rate must be between 0 and 1");
if (!Number.isSafeInteger(SEED)) fail("--seed must be an integer");

const ADMIN_TOKEN = `op_soak_${randomBytes(16).toString("hex")}`;
const RSS_SAMPLE_MS = 10_000;
const RECEIVER_DOWN = [0.3, 0.45] as const; // share of the run during which webhooks get 503
const CARD_BALANCE = 10_000_000_000; // 100,000,000.00 yuan: the run never runs a card dry
const FAULT_OPERATIONS = ["sign", "confirm", "pay", "refund"] as const;
/** Final, or `queued` (waiting with its reason for a rail that is closed now: HVPS after 17:00 Beijing time). */
const PAYOUT_SETTLED = new Set(["succeeded", "failed", "returned", "queued"]);
const PAYEE_BANKS = ["105100000017", "309100000018", "102100000015"]; // CCB (IBPS), CIB (not IBPS), ICBC (reserve bank)

function positive(name: "minutes" | "clients" | "cards" | "drain-minutes"): number {
  const v = Number(args[name]);
  if (!(v > 0) || !Number.isFinite(v)) fail(`--${name} must be a positive number`);
  return v;
}

function fail(message: string): never {
  console.error(`soak: ${message}`);
  process.exit(2);
}

// The sandbox's seeded generator (mulberry32), so that `--seed` replays the load's choices.
const stream = new Rng(SEED);
const random = () => stream.next();
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => Date.now();
const log = (line: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`);

// ---------------------------------------------------------------------------------------------
// The webhook receiver: checks each signature, counts deliveries per event id, can be "down".

interface Received {
  type: string;
  object_id: string;
  deliveries: number;
}

class Receiver {
  readonly events = new Map<string, Received>();
  bad_signatures = 0;
  refused_while_down = 0;
  down = false;
  secrets: string[] = [];
  private server: Server | null = null;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req).then((status) => res.writeHead(status).end()));
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/webhooks`;
  }

  private async handle(req: IncomingMessage): Promise<number> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (this.down) {
      this.refused_while_down += 1;
      return 503;
    }
    const body = Buffer.concat(chunks).toString("utf8");
    const signature = String(req.headers["paycore-signature"] ?? "");
    const signed = `${req.headers["paycore-timestamp"]}\n${req.headers["paycore-nonce"]}\n${body}\n`;
    const ok = this.secrets.some((secret) => {
      const expected = Buffer.from(createHmac("sha256", secret).update(signed).digest("base64"));
      const got = Buffer.from(signature);
      return expected.length === got.length && timingSafeEqual(expected, got);
    });
    if (!ok) {
      this.bad_signatures += 1;
      return 401;
    }
    const event = JSON.parse(body) as { id: string; type: string; data: Json };
    const object_id = String(event.data.payment_id && !event.type.startsWith("refund") ? event.data.payment_id : (event.data.refund_id ?? event.data.payout_id ?? event.data.agreement_id ?? event.data.deposit_id ?? event.data.payment_id ?? "?"));
    const seen = this.events.get(event.id);
    if (seen) seen.deliveries += 1;
    else this.events.set(event.id, { type: event.type, object_id, deliveries: 1 });
    return 204;
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

// ---------------------------------------------------------------------------------------------

interface Card {
  card_number: string;
  holder_name: string;
  id_number: string;
  phone: string;
  card_type: string;
  balance: number;
}

interface Tracked {
  payments: Map<string, { payment_id: string; amount: number; card: string; status: string; refunded: number }>;
  refunds: Map<string, { refund_id: string; payment_id: string; amount: number; status: string }>;
  payouts: Map<string, { payout_id: string; amount: number; status: string }>;
  signings: { started: number; signed: number; refused: number };
  answers: Map<string, number>;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Least-squares slope of RSS against time, in MB per 10 minutes, over the samples given. */
function slopeMbPer10Min(samples: { t_ms: number; mb: number }[]): number {
  if (samples.length < 2) return 0;
  const n = samples.length;
  const mx = samples.reduce((s, p) => s + p.t_ms, 0) / n;
  const my = samples.reduce((s, p) => s + p.mb, 0) / n;
  const num = samples.reduce((s, p) => s + (p.t_ms - mx) * (p.mb - my), 0);
  const den = samples.reduce((s, p) => s + (p.t_ms - mx) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 600_000;
}

async function main(): Promise<void> {
  const started_at = new Date();
  log(`seed ${SEED}, ${MINUTES} min, ${CLIENTS} clients, ${CARDS} cards, fault rate ${FAULT_RATE} per kind`);
  let cluster: PrivateCluster | null = null;
  let database_url = args.database ?? "";
  if (!database_url) {
    cluster = await startPrivateCluster();
    const c = new pg.Client({ connectionString: cluster.url });
    await c.connect();
    await c.query("CREATE DATABASE paycore");
    await c.end();
    database_url = cluster.url.replace(/\/postgres$/, "/paycore");
  }
  const dir = mkdtempSync(join(tmpdir(), "paycore-soak-"));
  const receiver = new Receiver();
  await receiver.start();
  let sandbox: RunningSandbox | null = null;
  let paycore: (RunningCli & { banner: string }) | null = null;
  const report: Json = { seed: SEED, minutes: MINUTES, clients: CLIENTS, cards: CARDS, fault_rate_per_kind: FAULT_RATE, started_at: started_at.toISOString() };
  const checks: { name: string; ok: boolean; detail: string }[] = [];
  const check = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok, detail });
    log(`${ok ? "PASS" : "FAIL"} ${name}: ${detail}`);
  };
  try {
    sandbox = await startSandbox({ port: 0, data_dir: dir, seed: SEED % 1_000_000, log: createLogger("silent") });
    paycore = await startCli({
      DATABASE_URL: database_url,
      PAYCORE_DATA_DIR: dir,
      PORT: "0",
      SANDBOX_URL: sandbox.url,
      PAYCORE_ADMIN_TOKEN: ADMIN_TOKEN,
      PAYCORE_LOG_LEVEL: "error",
      PAYCORE_SEED_DEMO: "false",
      PAYCORE_WEBHOOK_ALLOW_HOSTS: "127.0.0.1",
      PAYCORE_RATE_LIMIT_PER_MINUTE: "1000000",
    });
    const url = /API\s+(http:\/\/\S+)/.exec(paycore.banner)![1]!;
    const pid = paycore.child.pid!;
    await sandboxSend(sandbox, "PUT", "/sandbox/v1/config", { paycore_callback_url: `${url}/callbacks/channels` });
    const admin = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
      const res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Json };
    };

    // The merchant ID, funded by a deposit from its own entity (票款一致).
    const legal_name = "浙江耐久测试科技有限公司";
    const entity = await admin("POST", "/admin/v1/entities", { legal_name, uscc: testUscc() });
    if (entity.status !== 201) throw new Error(`entity: ${JSON.stringify(entity.body)}`);
    const m = await admin("POST", "/admin/v1/merchants", {
      entity_id: entity.body.entity_id,
      name: "Soak",
      business_category: "retail",
      risk_level: "low",
      notify_url: receiver.url,
      products: [
        { product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 },
        { product: "payout", fee_rate_bps: 10, fee_min: 100 },
      ],
      settlement: { mode: "own", cycle_days: 1, account: { account_name: legal_name, account_number: "6222020200112233445", bank_code: "102290000012" } },
    });
    if (m.status !== 201) throw new Error(`merchant: ${JSON.stringify(m.body)}`);
    const merchant_id = m.body.merchant_id as string;
    const creds: Credentials = { mch_id: merchant_id, key_id: m.body.api_key.key_id, secret: m.body.api_key.secret };
    receiver.secrets = [creds.secret];
    const client = new PaycoreClient(url, creds);
    const deposit = await sandboxSend(sandbox, "POST", "/sandbox/v1/deposits", { merchant_id, amount: 10_000_000_000, payer: { account_name: legal_name, account_number: "6222020200998877", bank_code: "102100000015" } });
    if (deposit.status !== 201) throw new Error(`deposit: ${JSON.stringify(deposit.body)}`);

    const tracked: Tracked = { payments: new Map(), refunds: new Map(), payouts: new Map(), signings: { started: 0, signed: 0, refused: 0 }, answers: new Map() };
    const opening = new Map<string, number>();
    let serial = 0;
    const newCard = async (): Promise<Card> => {
      serial += 1;
      const res = await sandboxSend(sandbox!, "POST", "/sandbox/v1/cards", {
        holder_name: "耐久持卡人",
        id_number: residentId(5_000 + serial),
        phone: `1380${String(serial).padStart(7, "0")}`,
        bank_code: pick(["ICBC", "CCB", "ABC", "CMB"]),
        card_type: "debit",
        balance: CARD_BALANCE,
      });
      if (res.status !== 201) throw new Error(`adding a card: ${JSON.stringify(res.body)}`);
      const card = res.body as Card;
      opening.set(card.card_number, card.balance);
      return card;
    };
    const agreements: { agreement_id: string; card: string }[] = [];
    const sign = async (card: Card, label: string): Promise<boolean> => {
      tracked.signings.started += 1;
      const start = await client.post<Json>("/v1/agreements", {
        out_request_no: `soak-${label}`,
        user_ref: `u-${label}`,
        card: { holder_name: card.holder_name, id_type: "resident_id", id_number: card.id_number, card_number: card.card_number, phone: card.phone },
      });
      count(tracked, "POST /v1/agreements", start.status);
      let agreement_id = start.body.status === "already_signed" ? (start.body.agreement_id as string) : "";
      if (!agreement_id && start.body.sign_request_id) {
        const sms = await sandboxSend(sandbox!, "GET", `/sandbox/v1/sms?phone=${card.phone}`);
        const otp = (sms.body.data as { otp: string | null }[]).at(-1)?.otp;
        const confirm = await client.post<Json>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp });
        count(tracked, "POST /v1/agreements/confirm", confirm.status);
        if (confirm.status === 201 || confirm.status === 200) agreement_id = confirm.body.agreement_id as string;
      }
      if (!agreement_id) {
        tracked.signings.refused += 1;
        return false;
      }
      tracked.signings.signed += 1;
      agreements.push({ agreement_id, card: card.card_number });
      return true;
    };
    for (let i = 0; i < CARDS; i++) await sign(await newCard(), `base-${i}`);
    if (agreements.length < CARDS) throw new Error(`only ${agreements.length} of ${CARDS} cards could be signed before the faults`);
    log(`merchant ${merchant_id}, ${agreements.length} agreements; faults on`);

    // Every fault kind, on signing, payments and refunds of every network.
    const kinds: Json[] = [{ kind: "timeout" }, { kind: "unknown" }, { kind: "decline", decline_code: "insufficient_funds" }, { kind: "duplicate_notify" }, { kind: "latency", latency_ms: 1_500 }];
    let fault_seed = SEED;
    for (const k of kinds)
      for (const operation of FAULT_OPERATIONS) {
        if (k.kind === "duplicate_notify" && (operation === "sign" || operation === "confirm")) continue;
        const res = await sandboxSend(sandbox, "POST", "/sandbox/v1/faults", { channel: "*", operation, rate: FAULT_RATE, seed: (fault_seed = (fault_seed * 31 + 7) % 2 ** 31), ...k });
        if (res.status !== 201) throw new Error(`fault rule: ${JSON.stringify(res.body)}`);
      }

    // RSS every 10 s, from the start of the load to the end of the drain.
    const rss: { t_ms: number; mb: number }[] = [];
    const t0 = now();
    const sampler = setInterval(() => rss.push({ t_ms: now() - t0, mb: rssMb(pid) }), RSS_SAMPLE_MS);
    rss.push({ t_ms: 0, mb: rssMb(pid) });

    const run_ms = MINUTES * 60_000;
    const down_from = t0 + RECEIVER_DOWN[0] * run_ms;
    const down_to = t0 + RECEIVER_DOWN[1] * run_ms;
    const receiverTimer = setInterval(() => (receiver.down = now() >= down_from && now() < down_to), 500);
    let seq = 0;
    let last_progress = t0;
    const worker = async (w: number) => {
      while (now() - t0 < run_ms) {
        seq += 1;
        const n = seq;
        const roll = random();
        try {
          if (roll < 0.7) {
            const a = pick(agreements);
            const amount = 1 + Math.floor(random() * 500_000); // up to 5,000.00 yuan
            const out_trade_no = `soak-p-${n}`;
            const res = await client.post<Json>("/v1/payments", { out_trade_no, agreement_id: a.agreement_id, amount, currency: "CNY", description: "soak" });
            count(tracked, "POST /v1/payments", res.status);
            if (res.body.payment_id) tracked.payments.set(out_trade_no, { payment_id: res.body.payment_id, amount, card: a.card, status: res.body.status, refunded: 0 });
          } else if (roll < 0.85) {
            const succeeded = [...tracked.payments.values()].filter((p) => p.status === "succeeded" && p.refunded < p.amount);
            if (succeeded.length === 0) continue;
            const p = pick(succeeded);
            const amount = 1 + Math.floor(random() * (p.amount - p.refunded));
            p.refunded += amount; // reserve it here, so that two workers never over-ask
            const out_refund_no = `soak-r-${n}`;
            const res = await client.post<Json>(`/v1/payments/${p.payment_id}/refunds`, { out_refund_no, amount });
            count(tracked, "POST /v1/payments/{id}/refunds", res.status);
            if (res.body.refund_id) tracked.refunds.set(out_refund_no, { refund_id: res.body.refund_id, payment_id: p.payment_id, amount, status: res.body.status });
            else p.refunded -= amount;
          } else if (roll < 0.95) {
            // Mostly up to 10,000.00 yuan; one in ten over the small-value cap (52,000–60,000 yuan: HVPS).
            const amount = random() < 0.1 ? 5_200_000 + Math.floor(random() * 800_000) : 100 + Math.floor(random() * 1_000_000);
            const out_payout_no = `soak-o-${n}`;
            const res = await client.post<Json>("/v1/payouts", {
              out_payout_no,
              amount,
              payee: { account_name: "上海耐久收款有限公司", account_number: `62220000${String(n).padStart(8, "0")}`, bank_code: pick(PAYEE_BANKS) },
              purpose: "货款",
              urgency: random() < 0.2 ? "urgent" : "normal",
            });
            count(tracked, "POST /v1/payouts", res.status);
            if (res.body.payout_id) tracked.payouts.set(out_payout_no, { payout_id: res.body.payout_id, amount, status: res.body.status });
          } else {
            await sign(await newCard(), `run-${n}`);
          }
        } catch (err) {
          count(tracked, `transport error: ${(err as Error).message.slice(0, 60)}`, 0);
        }
        if (w === 0 && now() - last_progress > 60_000) {
          last_progress = now();
          log(`${Math.round((now() - t0) / 60_000)} min: ${tracked.payments.size} payments, ${tracked.refunds.size} refunds, ${tracked.payouts.size} payouts, ${tracked.signings.signed} signed, RSS ${rss.at(-1)?.mb.toFixed(0)} MB${receiver.down ? ", webhook receiver down" : ""}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, w) => worker(w)));
    clearInterval(receiverTimer);
    receiver.down = false;
    const load_ms = now() - t0;
    log(`load done in ${(load_ms / 60_000).toFixed(1)} min; faults cleared, draining`);
    await sandboxSend(sandbox, "DELETE", "/sandbox/v1/faults");

    // Drain: every object final through paycore's own sweeper and outbox, every event delivered.
    const drain_started = now();
    const pending = async () => {
      let open = 0;
      for (const p of tracked.payments.values())
        if (p.status === "processing") {
          p.status = (await client.get<Json>(`/v1/payments/${p.payment_id}`)).body.status ?? p.status;
          if (p.status === "processing") open += 1;
        }
      for (const r of tracked.refunds.values())
        if (r.status === "processing") {
          r.status = (await client.get<Json>(`/v1/refunds/${r.refund_id}`)).body.status ?? r.status;
          if (r.status === "processing") open += 1;
        }
      for (const o of tracked.payouts.values())
        if (!PAYOUT_SETTLED.has(o.status)) {
          o.status = (await client.get<Json>(`/v1/payouts/${o.payout_id}`)).body.status ?? o.status;
          if (!PAYOUT_SETTLED.has(o.status)) open += 1;
        }
      const events = await admin("GET", `/admin/v1/events?merchant_id=${merchant_id}&status=pending&limit=100`);
      return { objects: open, events: (events.body.data as Json[] | undefined)?.length ?? 0 };
    };
    let left = await pending();
    while ((left.objects > 0 || left.events > 0) && now() - drain_started < DRAIN_MS) {
      await sleep(5_000);
      left = await pending();
      if ((now() - drain_started) % 60_000 < 5_000) log(`draining: ${left.objects} objects not final, ${left.events} events pending`);
    }
    // A payment refunded in full or in part has moved on from `succeeded` in name only: read all once more.
    for (const p of tracked.payments.values()) p.status = (await client.get<Json>(`/v1/payments/${p.payment_id}`)).body.status ?? p.status;
    clearInterval(sampler);
    rss.push({ t_ms: now() - t0, mb: rssMb(pid) });
    const drain_ms = now() - drain_started;
    log(`drained in ${(drain_ms / 1000).toFixed(0)} s`);

    // 1. Every payment, refund and payout final.
    const byStatus = (xs: Iterable<{ status: string }>) => [...xs].reduce<Record<string, number>>((acc, x) => ((acc[x.status] = (acc[x.status] ?? 0) + 1), acc), {});
    const final_payment = (s: string) => s === "succeeded" || s === "failed" || s === "refunded" || s === "partially_refunded";
    const payments = byStatus(tracked.payments.values());
    const refunds = byStatus(tracked.refunds.values());
    const payouts = byStatus(tracked.payouts.values());
    const open_payments = [...tracked.payments.values()].filter((p) => !final_payment(p.status)).length;
    const open_refunds = [...tracked.refunds.values()].filter((r) => r.status === "processing").length;
    const open_payouts = [...tracked.payouts.values()].filter((o) => !PAYOUT_SETTLED.has(o.status)).length;
    check("every payment, refund and payout final", open_payments + open_refunds + open_payouts === 0, `payments ${JSON.stringify(payments)}, refunds ${JSON.stringify(refunds)}, payouts ${JSON.stringify(payouts)}`);

    // 2. The network's card balances against paycore's records, to the fen.
    const cards = (await sandboxSend(sandbox, "GET", "/sandbox/v1/cards")).body.data as Card[];
    const balance_now = new Map(cards.map((c) => [c.card_number, c.balance]));
    const expected = new Map(opening);
    const debit_statuses = new Set(["succeeded", "refunded", "partially_refunded"]);
    for (const p of tracked.payments.values()) if (debit_statuses.has(p.status)) expected.set(p.card, expected.get(p.card)! - p.amount);
    const payment_card = new Map([...tracked.payments.values()].map((p) => [p.payment_id, p.card]));
    for (const r of tracked.refunds.values()) if (r.status === "succeeded") expected.set(payment_card.get(r.payment_id)!, expected.get(payment_card.get(r.payment_id)!)! + r.amount);
    const off = [...expected].filter(([card, fen]) => balance_now.get(card) !== fen);
    const charged = [...tracked.payments.values()].filter((p) => debit_statuses.has(p.status)).reduce((s, p) => s + p.amount, 0);
    const refunded = [...tracked.refunds.values()].filter((r) => r.status === "succeeded").reduce((s, r) => s + r.amount, 0);
    check(
      "card balances at the network equal paycore's payments and refunds, to the fen",
      off.length === 0,
      `${expected.size} cards; ${fen(charged)} yuan charged, ${fen(refunded)} refunded${off.length ? `; off: ${off.slice(0, 5).map(([c, f]) => `…${c.slice(-4)} expected ${f} has ${balance_now.get(c)}`).join(", ")}` : ""}`,
    );

    // 3. Notifications: one event id per object and type, each delivered and received, repeats only as retries.
    const all_events: Json[] = [];
    let cursor: string | null = null;
    do {
      const page = await admin("GET", `/admin/v1/events?merchant_id=${merchant_id}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      all_events.push(...(page.body.data as Json[]));
      cursor = page.body.next_cursor ?? null;
    } while (cursor);
    const per_object = new Map<string, number>();
    for (const e of receiver.events.values()) per_object.set(`${e.type} ${e.object_id}`, (per_object.get(`${e.type} ${e.object_id}`) ?? 0) + 1);
    const twice = [...per_object].filter(([, n]) => n > 1);
    const undelivered = all_events.filter((e) => e.status !== "delivered");
    const not_received = all_events.filter((e) => !receiver.events.has(e.event_id));
    const unknown = [...receiver.events.keys()].filter((id) => !all_events.some((e) => e.event_id === id));
    const repeats = [...receiver.events.values()].filter((e) => e.deliveries > 1).length;
    const expected_events =
      [...tracked.payments.values()].filter((p) => p.status !== "processing").length + [...tracked.refunds.values()].filter((r) => r.status !== "processing").length + [...tracked.payouts.values()].filter((o) => o.status !== "processing" && o.status !== "queued").length;
    check(
      "every notification delivered exactly once per event id",
      twice.length === 0 && undelivered.length === 0 && not_received.length === 0 && unknown.length === 0 && receiver.bad_signatures === 0,
      `${all_events.length} events (payments, refunds and payouts final: ${expected_events}); ${repeats} received more than once as retries of the same id; ${receiver.refused_while_down} attempts refused while the receiver was down; two ids for one object: ${twice.length}; not delivered: ${undelivered.length}; not received: ${not_received.length}; bad signatures: ${receiver.bad_signatures}`,
    );

    // 4. Books.
    const tb = await admin("GET", "/admin/v1/ledger/trial-balance");
    const ledger = await admin("GET", "/admin/v1/ledger/check");
    check("trial balance and ledger check hold", tb.body.balanced === true && ledger.status === 200, `trial balance ${tb.body.balanced ? "balanced" : JSON.stringify(tb.body)}; ledger check ${ledger.status}`);

    // 5. Memory: the trend over the load after its first fifth (warm-up), and the drain.
    const warm = rss.filter((s) => s.t_ms >= 0.2 * load_ms);
    const slope = slopeMbPer10Min(warm);
    const max = Math.max(...rss.map((s) => s.mb));
    check("memory stays flat", slope < 10, `RSS ${rss[0]!.mb.toFixed(0)} MB at start, ${rss.at(-1)!.mb.toFixed(0)} MB at the end, max ${max.toFixed(0)} MB; trend after warm-up ${slope.toFixed(1)} MB per 10 min over ${warm.length} samples`);

    check("paycore process still the same one", paycore.child.exitCode === null, `pid ${pid}`);
    Object.assign(report, {
      load_minutes: +(load_ms / 60_000).toFixed(1),
      drain_seconds: Math.round(drain_ms / 1000),
      payments,
      refunds,
      payouts,
      signings: tracked.signings,
      answers: Object.fromEntries(tracked.answers),
      events: all_events.length,
      events_received_more_than_once: repeats,
      webhook_attempts_refused_while_down: receiver.refused_while_down,
      charged_fen: charged,
      refunded_fen: refunded,
      rss_mb: { start: +rss[0]!.mb.toFixed(1), end: +rss.at(-1)!.mb.toFixed(1), max: +max.toFixed(1), trend_mb_per_10_min: +slope.toFixed(2), samples: rss.length },
      machine: `${cpus().length}× ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadavg().map((l) => l.toFixed(1)).join(" ")}`,
      checks,
    });
  } finally {
    if (paycore && paycore.child.exitCode !== null) console.error(`paycore exited (${paycore.child.exitCode}):\n${paycore.output().slice(-4_000)}`);
    await paycore?.stop("SIGTERM");
    await sandbox?.close();
    await receiver.close();
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log("\n" + JSON.stringify(report, null, 2));
  if (args.out) writeFileSync(args.out, JSON.stringify(report, null, 2) + "\n");
  const failed = checks.filter((c) => !c.ok);
  console.log(failed.length ? `\nsoak FAILED: ${failed.map((c) => c.name).join("; ")} (seed ${SEED})` : `\nsoak passed (seed ${SEED})`);
  process.exit(failed.length ? 1 : 0);
}

function count(t: Tracked, what: string, status: number): void {
  const key = `${what} ${status}`;
  t.answers.set(key, (t.answers.get(key) ?? 0) + 1);
}

function fen(n: number): string {
  const s = String(n).padStart(3, "0");
  return `${s.slice(0, -2)}.${s.slice(-2)}`;
}

async function sandboxSend(sandbox: RunningSandbox, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(sandbox.url + path, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
