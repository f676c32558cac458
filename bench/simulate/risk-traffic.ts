import { Rng } from "../../src/sandbox/rng.ts";
import type { PaycoreClient, Credentials } from "../../src/client/index.ts";
import type { ManualClock } from "../../src/kernel/clock.ts";
import { residentIdCheckChar, usccCheckChar } from "../../src/kernel/checks.ts";

/**
 * A traffic generator for the merchant monitor: normal merchants of several categories and
 * gambling-like ones (docs/domain.md, gambling red flags), driven through paycore's Open API against
 * the live sandbox networks over HTTP, on a manual clock shared by paycore and the sandbox so
 * four weeks of traffic take minutes. Then the monitor runs and its flags are compared with the
 * truth: precision and recall.
 */
export interface SimEnv {
  clock: ManualClock;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  merchantClient(creds: Credentials): PaycoreClient;
  sandbox: { send<T = unknown>(method: "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<{ status: number; body: T }>; get<T = unknown>(path: string): Promise<{ status: number; body: T }> };
}

export interface Profile {
  name: string;
  category: string;
  gambling: boolean;
  cycle_days: number;
  /** Payments a week in the scored week; `history_weekly` in the three weeks before (null: a new merchant). */
  weekly: number;
  history_weekly: number | null;
  night_share: number;
  weekend_share: number;
  round_share: number;
  /** Typical ticket (fen); amounts vary log-normally around it. */
  ticket_fen: number;
  /** Repeated fixed prices (subscriptions): share of payments at one of three prices. */
  fixed_price_share: number;
  cards_per_player: number;
  /** Share of players whose card phone is another player's. */
  phone_share: number;
  /** Share of players whose cards have too little money (payments fail). */
  broke_share: number;
}

export const normal = (p: Partial<Profile> & Pick<Profile, "name" | "category" | "ticket_fen">): Profile => ({
  gambling: false, cycle_days: 1, weekly: 40, history_weekly: 36, night_share: 0.04, weekend_share: 0.3, round_share: 0.05,
  fixed_price_share: 0, cards_per_player: 1, phone_share: 0, broke_share: 0.03, ...p,
});
export const gambling = (p: Partial<Profile> & Pick<Profile, "name" | "category">): Profile => ({
  gambling: true, cycle_days: 0, weekly: 60, history_weekly: null, night_share: 0.45, weekend_share: 0.45, round_share: 0.7, ticket_fen: 40_000,
  fixed_price_share: 0, cards_per_player: 2.5, phone_share: 0.3, broke_share: 0.25, ...p,
});

/** The simulated population; `scale` multiplies volumes (1 = the documented run). */
export function profiles(scale = 1): Profile[] {
  const s = (p: Profile) => ({ ...p, weekly: Math.max(8, Math.round(p.weekly * scale)), history_weekly: p.history_weekly === null ? null : Math.max(6, Math.round(p.history_weekly * scale)) });
  return [
    normal({ name: "corner grocery", category: "grocery", ticket_fen: 6_000 }),
    normal({ name: "noodle restaurant", category: "restaurant", ticket_fen: 9_000, weekend_share: 0.42 }),
    normal({ name: "late-night food delivery", category: "restaurant", ticket_fen: 7_000, night_share: 0.14, weekend_share: 0.38 }),
    normal({ name: "online bookshop", category: "ecommerce", ticket_fen: 15_000, cycle_days: 0 }),
    normal({ name: "tutoring school", category: "education", ticket_fen: 200_000, round_share: 0.6, weekly: 20, history_weekly: 18 }),
    normal({ name: "video streaming", category: "subscription", ticket_fen: 2_990, fixed_price_share: 0.9 }),
    normal({ name: "airline tickets", category: "travel", ticket_fen: 120_000, weekend_share: 0.35 }),
    normal({ name: "growing marketplace", category: "ecommerce", ticket_fen: 12_000, weekly: 60, history_weekly: 30 }),
    normal({ name: "mobile game top-ups", category: "games", ticket_fen: 3_000, night_share: 0.1, weekend_share: 0.4, fixed_price_share: 0.6 }),
    normal({ name: "utility bills", category: "utilities", ticket_fen: 15_000, cycle_days: 0 }),
    gambling({ name: "\"sports lottery\" as retail", category: "retail" }),
    gambling({ name: "\"online mall\" casino", category: "ecommerce", history_weekly: 8, weekly: 70 }),
    gambling({ name: "card room as education", category: "education", ticket_fen: 50_000 }),
    gambling({ name: "daytime betting shop", category: "retail", night_share: 0.15, weekend_share: 0.3, cards_per_player: 2, phone_share: 0.2 }),
    gambling({ name: "careful casino", category: "games", round_share: 0.45, cards_per_player: 1.8, phone_share: 0.15, broke_share: 0.15, ticket_fen: 20_000 }),
  ].map(s);
}

/** A small seeded generator (the sandbox's mulberry32): the same seed, the same traffic. */
export function rng(seed: number): () => number {
  const stream = new Rng(seed);
  return () => stream.next();
}

interface Player {
  id_number: string;
  phone: string;
  cards: { agreement_id: string | null; card: Record<string, unknown> }[];
  broke: boolean;
}

interface SimMerchant {
  profile: Profile;
  merchant_id: string;
  client: PaycoreClient;
  players: Player[];
}

interface PayEvent {
  at: number;
  merchant: SimMerchant;
}

export interface SimResult {
  merchants: { name: string; category: string; gambling: boolean; merchant_id: string; score: number; flagged: boolean; top_signals: string[] }[];
  payments: number;
  failed_payments: number;
  precision: number;
  recall: number;
  threshold: number;
}

const DAY_MS = 86_400_000;
const BEIJING_MS = 8 * 3_600_000;

/**
 * Creates the merchants, plays four weeks of traffic (three weeks of history, one scored week)
 * in time order, runs the monitor and measures it.
 */
export async function simulateRisk(env: SimEnv, o: { seed?: number; scale?: number; profiles?: Profile[]; log?: (line: string) => void } = {}): Promise<SimResult> {
  const random = rng(o.seed ?? 13);
  const log = o.log ?? (() => {});
  const start = env.clock.now().getTime();
  const list = o.profiles ?? profiles(o.scale ?? 1);
  const merchants: SimMerchant[] = [];
  for (const p of list) merchants.push(await createMerchant(env, p, random, merchants.length));
  const events: PayEvent[] = [];
  for (const m of merchants) {
    for (let week = 0; week < 4; week++) {
      const count = week === 3 ? m.profile.weekly : m.profile.history_weekly ?? 0;
      for (let i = 0; i < count; i++) events.push({ at: start + week * 7 * DAY_MS + timeInWeek(m.profile, random), merchant: m });
    }
  }
  events.sort((a, b) => a.at - b.at);
  log(`${merchants.length} merchant IDs, ${events.length} payments over 4 weeks`);
  let done = 0;
  let failed = 0;
  for (const e of events) {
    env.clock.set(e.at);
    if (!(await payOnce(env, e.merchant, random))) failed += 1;
    done += 1;
    if (done % 250 === 0) log(`  ${done}/${events.length} payments`);
  }
  env.clock.set(start + 28 * DAY_MS + 60_000);
  const run = await env.admin("POST", "/admin/v1/risk/monitor/run");
  if (run.status !== 200) throw new Error(`monitor run: ${JSON.stringify(run.body)}`);
  return measure(env, merchants, events.length, failed);
}

/** A time within a week (ms from its start) with the profile's night and weekend shares. */
function timeInWeek(p: Profile, random: () => number): number {
  // The simulation starts on a Monday 00:00 Beijing time: days 5 and 6 are the weekend.
  const day = random() < p.weekend_share ? 5 + Math.floor(random() * 2) : Math.floor(random() * 5);
  const hour = random() < p.night_share ? random() * 6 : 8 + random() * 14;
  return day * DAY_MS + Math.floor(hour * 3_600_000);
}

let entity_serial = 0;
async function createMerchant(env: SimEnv, p: Profile, random: () => number, index: number): Promise<SimMerchant> {
  entity_serial += 1;
  const uscc17 = `91310000MA1${String(Date.now() % 10_000).padStart(4, "0")}${String(entity_serial).padStart(2, "0")}`.slice(0, 17);
  const e = await env.admin("POST", "/admin/v1/entities", { legal_name: `${p.name} Co. ${Date.now() % 100000}-${index}`, uscc: uscc17 + usccCheckChar(uscc17) });
  if (e.status !== 201 && e.status !== 200) throw new Error(`entity: ${JSON.stringify(e.body)}`);
  const m = await env.admin("POST", "/admin/v1/merchants", {
    entity_id: e.body.entity_id,
    name: p.name,
    business_category: p.category,
    risk_level: "low",
    products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }],
    settlement: { mode: "own", cycle_days: p.cycle_days, account: { account_name: "Sim Co., Ltd.", account_number: "6222020200112233445", bank_code: "102290000012" } },
  });
  if (m.status !== 201) throw new Error(`merchant: ${JSON.stringify(m.body)}`);
  const client = env.merchantClient({ mch_id: m.body.merchant_id, key_id: m.body.api_key.key_id, secret: m.body.api_key.secret });
  const player_count = Math.max(6, Math.round((p.weekly + (p.history_weekly ?? 0) * 3) / (p.gambling ? 5 : 3)));
  const players: Player[] = [];
  for (let i = 0; i < player_count; i++) {
    const share_phone = players.length > 0 && random() < p.phone_share;
    const phone = share_phone ? players[Math.floor(random() * players.length)]!.phone : nextPhone();
    const n_cards = Math.max(1, Math.round(p.cards_per_player + (random() - 0.5)));
    players.push({ id_number: nextIdNumber(), phone, cards: Array.from({ length: n_cards }, () => ({ agreement_id: null, card: {} })), broke: random() < p.broke_share });
  }
  return { profile: p, merchant_id: m.body.merchant_id, client, players };
}

let person_serial = 0;
function nextIdNumber(): string {
  person_serial += 1;
  const first17 = `110101199${String(person_serial % 10)}0101${String(person_serial).padStart(3, "0").slice(-3)}`;
  return first17 + residentIdCheckChar(first17);
}
function nextPhone(): string {
  return `1380${String(Date.now() % 1000).padStart(3, "0")}${String(++person_serial).padStart(4, "0").slice(-4)}`;
}

/** One payment at the merchant by one of its players (signing the card first when new). */
async function payOnce(env: SimEnv, m: SimMerchant, random: () => number): Promise<boolean> {
  const player = m.players[Math.floor(random() * m.players.length)]!;
  const slot = player.cards[Math.floor(random() * player.cards.length)]!;
  if (!slot.agreement_id) slot.agreement_id = await signNewCard(env, m, player);
  const amount = amountFor(m.profile, random);
  const res = await m.client.post<{ status?: string }>("/v1/payments", { out_trade_no: `sim-${env.clock.now().getTime()}-${Math.floor(random() * 1e9)}`, agreement_id: slot.agreement_id, amount, currency: "CNY", description: m.profile.category });
  if (res.status !== 201 && res.status !== 200 && res.status !== 422) throw new Error(`payment: ${res.status} ${res.text}`);
  return res.status !== 422 && res.body.status !== "failed";
}

function amountFor(p: Profile, random: () => number): number {
  if (random() < p.fixed_price_share) return [p.ticket_fen, p.ticket_fen * 2 - 10, Math.round(p.ticket_fen * 0.5)][Math.floor(random() * 3)]!;
  if (random() < p.round_share) {
    const steps = [0.25, 0.5, 1, 2, 5].map((x) => Math.max(10_000, Math.round((p.ticket_fen * x) / 10_000) * 10_000));
    return steps[Math.floor(random() * steps.length)]!;
  }
  // Log-normal around the ticket, never a whole hundred of yuan by construction.
  const v = Math.round(p.ticket_fen * Math.exp((random() - 0.5) * 1.2));
  return v % 10_000 === 0 ? v + 37 : Math.max(101, v);
}

let sign_serial = 0;
async function signNewCard(env: SimEnv, m: SimMerchant, player: Player): Promise<string> {
  const added = await env.sandbox.send<Record<string, unknown>>("POST", "/sandbox/v1/cards", {
    holder_name: "模拟用户",
    id_number: player.id_number,
    phone: player.phone,
    bank_code: "ICBC",
    card_type: "debit",
    balance: player.broke ? 3_000 : 100_000_000,
  });
  if (added.status !== 201) throw new Error(`sandbox card: ${JSON.stringify(added.body)}`);
  const c = added.body;
  const card = { holder_name: c.holder_name, id_type: "resident_id", id_number: c.id_number, card_number: c.card_number, phone: c.phone };
  sign_serial += 1;
  const start = await m.client.post<Record<string, unknown>>("/v1/agreements", { out_request_no: `sim-sign-${sign_serial}-${Date.now()}`, user_ref: `p-${player.id_number.slice(-6)}`, card });
  if (start.status !== 201) throw new Error(`sign: ${start.status} ${start.text}`);
  if (start.body.status === "already_signed") return start.body.agreement_id as string;
  const sms = await env.sandbox.get<{ data: { otp: string | null }[] }>(`/sandbox/v1/sms?phone=${player.phone}`);
  const otp = sms.body.data.at(-1)?.otp;
  const confirm = await m.client.post<Record<string, unknown>>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp });
  if (confirm.status !== 201) throw new Error(`confirm: ${confirm.status} ${confirm.text}`);
  return confirm.body.agreement_id as string;
}

async function measure(env: SimEnv, merchants: SimMerchant[], payments: number, failed: number): Promise<SimResult> {
  const settings = await env.admin("GET", "/admin/v1/risk/settings");
  const results: SimResult["merchants"] = [];
  for (const m of merchants) {
    const s = await env.admin("GET", `/admin/v1/risk/merchants/${m.merchant_id}`);
    const body = s.status === 200 ? s.body : { score: 0, flagged: false, signals: [] };
    results.push({
      name: m.profile.name,
      category: m.profile.category,
      gambling: m.profile.gambling,
      merchant_id: m.merchant_id,
      score: body.score,
      flagged: body.flagged,
      top_signals: (body.signals as { name: string; contribution: number }[]).filter((x) => x.contribution > 0).slice(0, 4).map((x) => `${x.name} +${x.contribution}`),
    });
  }
  const tp = results.filter((r) => r.flagged && r.gambling).length;
  const fp = results.filter((r) => r.flagged && !r.gambling).length;
  const fn = results.filter((r) => !r.flagged && r.gambling).length;
  return { merchants: results, payments, failed_payments: failed, precision: tp + fp === 0 ? 1 : tp / (tp + fp), recall: tp + fn === 0 ? 1 : tp / (tp + fn), threshold: settings.body.flag_threshold };
}

/** Monday 00:00 Beijing time on or after `at`. */
export function mondayBeijing(at: Date): Date {
  const local = at.getTime() + BEIJING_MS;
  const day_start = local - (local % DAY_MS);
  const dow = (Math.floor(day_start / DAY_MS) + 4) % 7; // 0 = Sunday
  const days = (8 - dow) % 7;
  return new Date(day_start + days * DAY_MS - BEIJING_MS);
}
