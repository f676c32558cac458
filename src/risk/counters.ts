import { sql, type Kysely, type OperationNodeSource, type RawBuilder } from "kysely";
import type { Database } from "../db/index.ts";
import { paymentsCreatedIn } from "../db/payments-created.ts";
import { fragmentTemplate } from "../db/template.ts";
import { assert } from "../kernel/assert.ts";
import { RISK_LIMITS } from "./limits.ts";
import type { RuleScope, RuleSubject } from "./rows.ts";

/**
 * Risk counters: what a scope (a card, an ID holder, a merchant ID, a phone) did since an
 * instant, read from time buckets (migration 1300_risk_counters.sql) instead of from every
 * payment in the window.
 *
 * Cost per payment: one statement reads every window of every rule (bucket rows plus at most
 * one minute of raw rows per window edge; a merchant ID's, under a second, then second buckets,
 * migration 2190), and one statement adds the payment to its ten buckets (3 scopes × minute, hour,
 * day, and the merchant ID's second) in the transaction that records it. A bucket row is
 * locked from that statement to the commit; merchant-ID buckets are striped so that concurrent
 * payments of one merchant ID rarely meet on one row.
 */

/** What one scope has done since one instant: attempts, and the amount still standing (fen). */
export interface Usage {
  count: bigint;
  amount: bigint;
}

/** Whose payments or signings a scope counts. */
export interface ScopeKeys {
  card_id: string;
  id_fingerprint: string;
  merchant_id: string;
  /** Signings only. */
  phone_fingerprint?: string;
}

/** The scopes a payment and a signing count in. */
const SUBJECT_SCOPES: Record<RuleSubject, readonly RuleScope[]> = {
  payment: ["card", "id_holder", "merchant"],
  signing: ["card", "id_holder", "merchant", "phone"],
};

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Open end of the day range: later than any payment. */
const FAR_FUTURE = new Date("9999-01-01T00:00:00Z");

/** The key a scope's counters and its advisory lock go by. */
export function scopeKey(subject: RuleSubject, scope: RuleScope, keys: ScopeKeys): string {
  switch (scope) {
    case "card":
      return `${subject}:card:${keys.card_id}`;
    case "id_holder":
      return `${subject}:id:${keys.id_fingerprint}`;
    case "merchant":
      return `${subject}:merchant:${keys.merchant_id}`;
    case "phone":
      assert(keys.phone_fingerprint !== undefined, "a phone scope needs the phone fingerprint");
      return `${subject}:phone:${keys.phone_fingerprint}`;
  }
}

/** One window to count: a scope since an instant. */
export interface WindowQuery {
  scope: RuleScope;
  since: Date;
}

const ceilTo = (ms: number, width_ms: number) => Math.ceil(ms / width_ms) * width_ms;

/**
 * Splits [since, ∞) into an edge read from raw rows ([since, next minute)) and bucket ranges:
 * whole minutes up to the next hour, whole hours up to the next UTC day, days from there. Each
 * payment is in one bucket of each width, so every instant after `since` is counted once.
 */
export function windowRanges(since: Date): { edge: [Date, Date] | null; buckets: { width_s: number; lo: Date; hi: Date }[] } {
  const minute = ceilTo(since.getTime(), MINUTE_MS);
  const hour = ceilTo(minute, HOUR_MS);
  const day = ceilTo(hour, DAY_MS);
  return {
    edge: minute > since.getTime() ? [since, new Date(minute)] : null,
    buckets: [
      { width_s: 60, lo: new Date(minute), hi: new Date(hour) },
      { width_s: 3_600, lo: new Date(hour), hi: new Date(day) },
      { width_s: 86_400, lo: new Date(day), hi: FAR_FUTURE },
    ].filter((r) => r.lo < r.hi),
  };
}

/**
 * A scope whose attempts must not have grown between the count and the intent's statement: its
 * attempts in its day buckets since `from` (the UTC day of its oldest window), as counted.
 */
export interface ScopeCheck {
  scope_key: string;
  from: Date;
  count: bigint;
}

/**
 * Usage of each window, in one statement whatever the number of rules, scopes and windows, and
 * the check total of each scope in `checks` (its `count` is filled in). Counts are of attempts
 * (every status: declines are what card testing looks like); amounts are of payments that
 * succeeded or may still succeed.
 */
export async function windowUsage(db: Kysely<Database>, subject: RuleSubject, keys: ScopeKeys, windows: readonly WindowQuery[], checks: ScopeCheck[] = []): Promise<Usage[]> {
  if (windows.length === 0) return [];
  const result = await windowUsageQuery(subject, keys, windows, checks).execute(db);
  const usage = windows.map(() => ({ count: 0n, amount: 0n }));
  for (const check of checks) check.count = 0n;
  for (const row of result.rows) {
    const w = Number(row.w);
    if (w < windows.length) usage[w] = { count: BigInt(row.n), amount: BigInt(row.a) };
    else checks[w - windows.length]!.count = BigInt(row.n);
  }
  return usage;
}

/** The UTC day a check of these windows starts from: that of the oldest one. */
export function checkFrom(windows: readonly WindowQuery[]): Date {
  assert(windows.length > 0, "a check needs a window");
  const oldest = Math.min(...windows.map((w) => w.since.getTime()));
  return new Date(Math.floor(oldest / DAY_MS) * DAY_MS);
}

/**
 * The statement `windowUsage` runs (the benchmark EXPLAINs it): one row per window with any
 * usage, then one per check (`w` = windows.length + its index) with its day buckets' attempts.
 */
export function windowUsageQuery(
  subject: RuleSubject,
  keys: ScopeKeys,
  windows: readonly WindowQuery[],
  checks: readonly ScopeCheck[] = [],
): RawBuilder<{ w: number; n: string | bigint; a: string | bigint }> {
  assert(windows.length > 0, "no window to count");
  assert(windows.length <= RISK_LIMITS.rules_per_payment_max, "more windows than rules per payment");
  if (subject === "payment") return paymentUsageCall(keys, windows, checks);
  const bucket_rows: RawBuilder<unknown>[] = [];
  const edges = new Map<RuleScope, RawBuilder<unknown>[]>();
  windows.forEach((w, i) => {
    const { edge, buckets } = windowRanges(w.since);
    const key = scopeKey(subject, w.scope, keys);
    for (const b of buckets) bucket_rows.push(sql`(${i}::int, ${key}::text, ${b.width_s}::int, ${b.lo}::timestamptz, ${b.hi}::timestamptz)`);
    if (edge) edges.set(w.scope, [...(edges.get(w.scope) ?? []), sql`(${i}::int, ${edge[0]}::timestamptz, ${edge[1]}::timestamptz)`]);
  });
  checks.forEach((c, j) => bucket_rows.push(sql`(${windows.length + j}::int, ${c.scope_key}::text, 86400::int, ${c.from}::timestamptz, ${FAR_FUTURE}::timestamptz)`));
  const parts: RawBuilder<unknown>[] = [];
  if (bucket_rows.length > 0) {
    parts.push(sql`SELECT r.w, c.count AS n, c.amount AS a
      FROM (VALUES ${sql.join(bucket_rows)}) AS r(w, scope_key, width_s, lo, hi)
      JOIN risk_counters c ON c.scope_key = r.scope_key AND c.width_s = r.width_s AND c.bucket_start >= r.lo AND c.bucket_start < r.hi`);
  }
  for (const [scope, rows] of edges) parts.push(edgeRows(subject, scope, keys, rows));
  // set_config is a function PostgreSQL marks parallel-unsafe: a statement that calls it is never
  // given parallel workers. Without it, with a long history (200,000 payments) the planner chose a
  // Gather Merge over two workers whose start-up (~50 ms) dwarfed the work (under 2 ms of index
  // probes). The call is also SET LOCAL without a statement of its own: no later statement of the
  // transaction gets workers either. PGlite has no workers; the call is harmless there.
  return sql<{ w: number; n: string | bigint; a: string | bigint }>`SELECT w, sum(n)::int8 AS n, sum(a)::int8 AS a,
      set_config('max_parallel_workers_per_gather', '0', true) AS serial
    FROM (${sql.join(parts, sql` UNION ALL `)}) AS u GROUP BY w`;
}

/**
 * The intent statement's guard for a payment counted without its scope locks: takes the locks
 * (held to the statement's commit) and answers whether every checked scope's attempts are still
 * what they were counted as (migration 1302_risk_scope_recheck.sql).
 */
export function scopesUnchanged(lock_keys: readonly string[], checks: readonly ScopeCheck[]): RawBuilder<boolean> {
  const texts = (xs: readonly string[]) => (xs.length === 0 ? sql`ARRAY[]::text[]` : sql`ARRAY[${sql.join(xs.map((x) => sql`${x}::text`))}]`);
  const times = checks.length === 0 ? sql`ARRAY[]::timestamptz[]` : sql`ARRAY[${sql.join(checks.map((c) => sql`${c.from}::timestamptz`))}]`;
  const counts = checks.length === 0 ? sql`ARRAY[]::int8[]` : sql`ARRAY[${sql.join(checks.map((c) => sql`${c.count}::int8`))}]`;
  return sql<boolean>`risk_scopes_unchanged(${RISK_LOCK_CLASS}::int, ${texts(lock_keys)}, ${texts(checks.map((c) => c.scope_key))}, ${times}, ${counts})`;
}

/**
 * A PostgreSQL array literal (strings and instants quoted, null as NULL): one parameter whatever
 * the length. On every payment under rules (~250 elements), so an element is escaped only when it
 * holds a quote or a backslash.
 */
export function arrayLiteral(xs: readonly (string | number | Date | bigint | null)[]): string {
  return `{${xs.map(arrayElement).join(",")}}`;
}

function arrayElement(x: string | number | Date | bigint | null): string {
  if (x === null) return "NULL";
  if (typeof x === "number" || typeof x === "bigint") return String(x);
  const text = x instanceof Date ? x.toISOString() : x;
  return text.includes('"') || text.includes("\\") ? `"${text.replace(/["\\]/g, "\\$&")}"` : `"${text}"`;
}

/**
 * A payment's count as a call of `risk_payment_usage` (migration 1960), whose one query is planned
 * once per connection: the windows go as two arrays of numbers (one parameter each), and the
 * function derives the same raw edge and bucket ranges as `windowRanges`.
 */
function paymentUsageCall(keys: ScopeKeys, windows: readonly WindowQuery[], checks: readonly ScopeCheck[]): RawBuilder<{ w: number; n: string | bigint; a: string | bigint }> {
  // Payments are checked under their scope locks (risk_payment_judge), never by a re-check total.
  assert(checks.length === 0, "payments are not re-checked by day totals");
  return sql<{ w: number; n: string | bigint; a: string | bigint }>`SELECT w, n, a FROM risk_payment_usage(${paymentWindowArgs(keys, windows)})`;
}

/** The scope codes of `risk_payment_usage` and `risk_payment_judge` (migrations 1960, 2260). */
export const PAYMENT_SCOPE_CODE: Record<"card" | "id_holder" | "merchant", number> = { card: 0, id_holder: 1, merchant: 2 };

/**
 * The arguments of `risk_payment_usage` (a payment's count of every window; `risk_payment_judge`
 * takes the same windows with their rooms, src/risk/evaluate.ts): the scopes' keys, then each
 * window as its scope's code and its start in epoch milliseconds. The ranges it reads (the raw
 * edge up to the next whole minute, then minute, hour and day buckets) are derived in SQL: two
 * short arrays of integers instead of ~190 elements, ~150 of them instants formatted as text here
 * and parsed again by PostgreSQL.
 */
function paymentWindowArgs(keys: ScopeKeys, windows: readonly WindowQuery[]): RawBuilder<unknown> {
  const scopes: number[] = [];
  const since: number[] = [];
  for (const w of windows) {
    assert(w.scope !== "phone", "payments are not counted per phone");
    scopes.push(PAYMENT_SCOPE_CODE[w.scope]);
    since.push(w.since.getTime());
  }
  return sql`${keys.card_id}::text, ${keys.id_fingerprint}::text, ${keys.merchant_id}::text, ${arrayLiteral(scopes)}::int2[], ${arrayLiteral(since)}::int8[]`;
}

/** The first key of the two-key advisory locks risk takes (its migration number). */
export const RISK_LOCK_CLASS = 1000;

/** The raw rows of the window edges of one scope (each edge is less than a minute long). */
function edgeRows(subject: RuleSubject, scope: RuleScope, keys: ScopeKeys, ranges: RawBuilder<unknown>[]): RawBuilder<unknown> {
  const values = sql`(VALUES ${sql.join(ranges)}) AS e(w, lo, hi)`;
  if (subject === "signing") {
    const column = { card: sql`s.card_id`, id_holder: sql`s.id_fingerprint`, merchant: sql`s.merchant_id`, phone: sql`s.phone_fingerprint` }[scope];
    const value = { card: keys.card_id, id_holder: keys.id_fingerprint, merchant: keys.merchant_id, phone: keys.phone_fingerprint ?? "" }[scope];
    return sql`SELECT e.w, 1::int8 AS n, 0::int8 AS a FROM ${values} JOIN risk_signings s ON ${column} = ${value} AND s.created_at >= e.lo AND s.created_at < e.hi`;
  }
  const amount = sql`CASE WHEN p.status <> 'failed' THEN p.amount ELSE 0 END`;
  switch (scope) {
    case "card":
      return sql`SELECT e.w, 1::int8 AS n, ${amount} AS a FROM ${values} JOIN payments p ON p.card_id = ${keys.card_id} AND p.created_at >= e.lo AND p.created_at < e.hi`;
    case "merchant":
      return sql`SELECT e.w, 1::int8 AS n, ${amount} AS a FROM ${values} JOIN payments p ON p.merchant_id = ${keys.merchant_id} AND p.created_at >= e.lo AND p.created_at < e.hi`;
    case "id_holder":
      return sql`SELECT e.w, 1::int8 AS n, ${amount} AS a FROM ${values}
        JOIN cards k ON k.id_fingerprint = ${keys.id_fingerprint}
        JOIN payments p ON p.card_id = k.card_id AND p.created_at >= e.lo AND p.created_at < e.hi`;
    case "phone":
      throw new Error("payments are not counted per phone");
  }
}

/** The stripe of a merchant-ID bucket a payment goes to: fixed by its id, so its failure finds it. */
function stripeOf(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % RISK_LIMITS.counter_stripes;
}

/**
 * Adds one payment (or signing) to the buckets of every scope it counts in, whether a rule
 * counts that scope today or not (a rule added tomorrow looks back on it). Run in the
 * transaction that records it, as its last statement before the commit: the rows stay locked
 * for as short a time as the transaction allows. Rows go in one order everywhere (sorted), so
 * two writers cannot deadlock on them.
 */
export async function addToCounters(db: Kysely<Database>, c: CounterAddition): Promise<void> {
  await counterUpsert(c).execute(db);
}

export interface CounterAddition {
  subject: RuleSubject;
  keys: ScopeKeys;
  id: string;
  at: Date;
  count: bigint;
  amount: bigint;
}

/**
 * The upsert of one payment's (or signing's) buckets, built and compiled once per guard (src/db/
 * template.ts): its scopes' keys (sorted) and stripes as two arrays, its instant, count and amount —
 * 5 parameters whatever the number of scopes, where the upsert built per payment took 6 per bucket
 * (54 for a payment's nine). The three widths and each bucket's start are derived in SQL, with the
 * start aligned as `rebuildCounters` aligns it. Rows go in the order the per-payment upsert used
 * (scope key, then width), so a process of either release and this one cannot deadlock on them.
 *
 * A payment's merchant-ID scope also gets its second bucket (width 1, migration 2190), and every
 * row written here adds the same to `fine_count` and `fine_amount` as to `count` and `amount`: a
 * minute whose rows agree on both was written only by processes that write second buckets, so its
 * second buckets are exact (`risk_payment_usage` reads a merchant ID's window edge from them then).
 */
/** Bucket widths of every scope, and of a payment's merchant-ID scope (seconds too). */
const WIDTHS = [60, 3_600, 86_400] as const;
const SECOND_WIDTHS = [1, ...WIDTHS] as const;
const COUNTER_UPSERTS = new Map<string, (keys: string, stripes: string, at: Date, count: bigint, amount: bigint) => OperationNodeSource>();

function counterUpsertTemplate(only_if: string | undefined) {
  const name = only_if ?? "";
  let template = COUNTER_UPSERTS.get(name);
  if (template === undefined) {
    const guard = only_if ? sql` WHERE EXISTS (SELECT 1 FROM ${sql.id(only_if)})` : sql``;
    template = fragmentTemplate<[string, string, Date, bigint, bigint]>(5, (keys, stripes, at, count, amount) => sql`INSERT INTO risk_counters (scope_key, width_s, bucket_start, stripe, count, amount, fine_count, fine_amount)
    SELECT k.scope_key, w.width_s, date_bin(make_interval(secs => w.width_s), ${at}::timestamptz, TIMESTAMPTZ '1970-01-01 00:00:00+00'), k.stripe, ${count}::int8, ${amount}::int8, ${count}::int8, ${amount}::int8
      FROM unnest(${keys}::text[], ${stripes}::int2[]) WITH ORDINALITY AS k(scope_key, stripe, o)
      CROSS JOIN LATERAL unnest(CASE WHEN k.scope_key LIKE 'payment:merchant:%' THEN ${sql.raw(`'{${SECOND_WIDTHS.join(",")}}'`)}::int4[] ELSE ${sql.raw(`'{${WIDTHS.join(",")}}'`)}::int4[] END) AS w(width_s)${guard}
      ORDER BY k.o, w.width_s
    ON CONFLICT (scope_key, width_s, bucket_start, stripe)
    DO UPDATE SET count = risk_counters.count + excluded.count, amount = risk_counters.amount + excluded.amount,
      fine_count = risk_counters.fine_count + excluded.fine_count, fine_amount = risk_counters.fine_amount + excluded.fine_amount`);
    COUNTER_UPSERTS.set(name, template);
  }
  return template;
}

/**
 * The upsert `addToCounters` runs, as SQL: a statement of its own, or a data-modifying CTE of
 * the statement that records the payment (src/payments/intent.ts), in which case `only_if`
 * names a CTE whose rows decide whether anything is added (the payment was inserted).
 */
export function counterUpsert(c: CounterAddition, only_if?: string): RawBuilder<unknown> {
  const scopes = SUBJECT_SCOPES[c.subject].map((scope) => ({ key: scopeKey(c.subject, scope, c.keys), stripe: scope === "merchant" ? stripeOf(c.id) : 0 }));
  scopes.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const upsert = counterUpsertTemplate(only_if)(arrayLiteral(scopes.map((s) => s.key)), arrayLiteral(scopes.map((s) => s.stripe)), c.at, c.count, c.amount);
  return sql`${upsert}`;
}

/**
 * A payment that failed no longer stands: its amount leaves its buckets (its attempt still
 * counts). Called in the transaction that makes it fail.
 */
export async function releaseFailedPayment(db: Kysely<Database>, p: { payment_id: string; card_id: string; merchant_id: string; amount: bigint; created_at: Date }): Promise<void> {
  const card = await db.selectFrom("cards").select("id_fingerprint").where("card_id", "=", p.card_id).executeTakeFirstOrThrow();
  const keys: ScopeKeys = { card_id: p.card_id, id_fingerprint: card.id_fingerprint, merchant_id: p.merchant_id };
  await addToCounters(db, { subject: "payment", keys, id: p.payment_id, at: p.created_at, count: 0n, amount: -p.amount });
}

/**
 * Serializes the payments (or signings) of the scopes an enforced reject rule counts, and only
 * those: a transaction-level advisory lock per scope key, all taken by one statement in the
 * order of their lock numbers, so two payments sharing two scopes cannot deadlock. Payments of
 * other cards, people and merchant IDs do not wait. (A separate statement from the count: a
 * statement reads the snapshot it started with, before its locks were granted.)
 */
export async function lockScopes(trx: Kysely<Database>, keys: readonly string[]): Promise<void> {
  const unique = [...new Set(keys)];
  if (unique.length === 0) return;
  const values = unique.map((k) => sql`(${k}::text)`);
  await sql`SELECT count(pg_advisory_xact_lock(${RISK_LOCK_CLASS}::int, s.h))
    FROM (SELECT DISTINCT hashtext(v.k) AS h FROM (VALUES ${sql.join(values)}) AS v(k) ORDER BY h OFFSET 0) AS s`.execute(trx);
}

/**
 * Deletes counter buckets older than RISK_LIMITS.counter_keep_seconds, at most `batch_rows` a
 * statement and `batches_max` statements a run; stops at the first short batch. Several
 * processes may sweep at once: each batch skips the rows another is deleting (SKIP LOCKED), so
 * none waits on another or deletes a row twice. Answers the rows deleted.
 */
export async function sweepOldCounters(db: Kysely<Database>, now: Date, bounds: { batch_rows: number; batches_max: number }): Promise<number> {
  assert(RISK_LIMITS.counter_keep_seconds > RISK_LIMITS.window_seconds_max, "buckets must outlive the longest window");
  assert(bounds.batch_rows > 0 && bounds.batches_max > 0, "a sweep needs positive bounds");
  const cutoff = new Date(now.getTime() - RISK_LIMITS.counter_keep_seconds * 1000);
  let total = 0;
  for (let i = 0; i < bounds.batches_max; i++) {
    const r = await sql`DELETE FROM risk_counters WHERE (scope_key, width_s, bucket_start, stripe) IN (
      SELECT scope_key, width_s, bucket_start, stripe FROM risk_counters WHERE bucket_start < ${cutoff}
      LIMIT ${bounds.batch_rows} FOR UPDATE SKIP LOCKED)`.execute(db);
    const n = Number(r.numAffectedRows ?? 0n);
    total += n;
    if (n < bounds.batch_rows) break;
  }
  return total;
}

/**
 * Rebuilds the buckets of payments and signings since an instant from their rows (what the
 * migration did for the history): for payments written straight into the table (the benchmark's
 * history) or after a restore. Not concurrent with payments: run it on a quiet database.
 */
export async function rebuildCounters(db: Kysely<Database>, from: Date): Promise<void> {
  // From the start of a UTC day, so that no bucket is half rebuilt.
  const since = new Date(Math.floor(from.getTime() / DAY_MS) * DAY_MS);
  await db.transaction().execute(async (trx) => {
    await sql`DELETE FROM risk_counters WHERE bucket_start >= ${since}`.execute(trx);
    // Every row complete in its fine_* columns, the merchant IDs' second buckets too (see counterUpsertTemplate).
    await sql`INSERT INTO risk_counters (scope_key, width_s, bucket_start, stripe, count, amount, fine_count, fine_amount)
      SELECT g.scope_key, g.width_s, g.bucket_start, 0, g.n, g.a, g.n, g.a FROM (
        SELECT k.scope_key, w.width_s, date_bin(make_interval(secs => w.width_s), p.created_at, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket_start,
               count(*) AS n, coalesce(sum(p.amount) FILTER (WHERE p.status <> 'failed'), 0) AS a
        FROM payments p
        JOIN cards c ON c.card_id = p.card_id
        CROSS JOIN LATERAL (VALUES ('payment:card:' || p.card_id, false), ('payment:id:' || c.id_fingerprint, false), ('payment:merchant:' || p.merchant_id, true)) AS k(scope_key, seconds)
        CROSS JOIN LATERAL unnest(CASE WHEN k.seconds THEN '{1,60,3600,86400}'::int4[] ELSE '{60,3600,86400}'::int4[] END) AS w(width_s)
        WHERE ${paymentsCreatedIn(since, null, "p")}
        GROUP BY 1, 2, 3) AS g`.execute(trx);
    await sql`INSERT INTO risk_counters (scope_key, width_s, bucket_start, stripe, count, amount)
      SELECT k.scope_key, w.width_s, date_bin(make_interval(secs => w.width_s), s.created_at, TIMESTAMPTZ '1970-01-01 00:00:00+00'), 0, count(*), 0
      FROM risk_signings s
      CROSS JOIN LATERAL (VALUES ('signing:card:' || s.card_id), ('signing:id:' || s.id_fingerprint), ('signing:merchant:' || s.merchant_id), ('signing:phone:' || s.phone_fingerprint)) AS k(scope_key)
      CROSS JOIN (VALUES (60), (3600), (86400)) AS w(width_s)
      WHERE s.created_at >= ${since}
      GROUP BY 1, 2, 3`.execute(trx);
  });
}
