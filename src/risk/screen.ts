import { sql, type Kysely, type OperationNodeSource, type RawBuilder } from "kysely";
import type { Ctx } from "../context.ts";
import type { CardRow, Database } from "../db/index.ts";
import { fragmentTemplate } from "../db/template.ts";
import { assert } from "../kernel/assert.ts";
import { PaycoreError } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import { blockFingerprint, blocklistHits, cardBlocklistHits, type BlocklistHit } from "./blocklist.ts";
import { counterUpsert, lockScopes, scopesUnchanged, type CounterAddition, type ScopeKeys } from "./counters.ts";
import { countWindows, judgeInStatement, judgeRules, lockKeys, outcomeOf, type Attempt, type Counted, type FiredRule } from "./evaluate.ts";
import { countersOnly, namedWrites, RiskScopesMoved, type IntentRisk } from "./intent-writes.ts";
import type { DecisionOutcome, RiskRuleRow, RiskSigningRow, RuleSubject } from "./rows.ts";
import { applicableRules } from "./rules.ts";

export interface PaymentScreening {
  merchant_id: string;
  card: CardRow;
  amount: bigint;
  out_trade_no: string;
  /** The id and creation time the payment will have: its counter buckets follow from them. */
  payment_id: string;
  created_at: Date;
  /** The blocklist entries the payment's first read found for the card (getAgreementForPayment); absent: read here. */
  blocked?: BlocklistHit[];
}

/**
 * The one risk check of a payment, run before its intent is recorded. `record` inserts the
 * intent with the database handle it is given, in one statement with what `IntentRisk` adds
 * (src/payments/intent.ts): the payment's counter buckets, its decision (and a review's alert),
 * and the guard of a payment counted without its locks. It answers the row, or null when a
 * concurrent request with the same out_trade_no won. A reject throws `risk_rejected` naming the
 * rule and nothing is recorded but the decision (after `beforeOtherWrite`, which claims a
 * deferred request nonce and answers true when that claim found the configuration version moved
 * since the request's cached values were read: rules judged from the cache are then judged
 * again, on the configuration as it is now, before a reject is stored).
 *
 * Exact under concurrency: when an enforced reject rule counts a scope, the payment is recorded
 * only while it holds the scope's advisory lock and the scope's attempts are still those the
 * rules were judged on. The usual way costs no statement more than the judgement: the count
 * runs unlocked, and the intent's statement takes the locks and re-checks the count first
 * (`scopesUnchanged`); if a payment of the scope was recorded in between, that statement writes
 * nothing and the payment is judged again in a transaction that takes the locks before it counts.
 *
 * Statements: the rules come from the configuration cache (none once it is warm; a rule change
 * through any process moves the configuration version, and the intent's statement refuses a
 * request whose cached configuration is stale). The blocklist entries naming the card come with
 * the payment's first read (`p.blocked`; a statement here only for a card without its phone's
 * fingerprint, or a caller that did not read them). With rules, the count of their windows; then
 * the intent's statement (with the decision), which commits by itself. Only after a re-check failed: BEGIN, the scope locks, the count, the
 * intent's statement, COMMIT.
 */
export async function screenPayment<T extends { payment_id: string; created_at: Date }>(
  ctx: Ctx,
  p: PaymentScreening,
  record: (db: Kysely<Database>, risk: IntentRisk) => Promise<T | null>,
  beforeOtherWrite: () => Promise<boolean> = async () => false,
): Promise<T | null> {
  const first = await screenOnce(ctx, p, record, beforeOtherWrite);
  if (first !== STALE) return first;
  // The claim has confirmed the version now (and emptied the cache): judged again on current rules.
  const again = await screenOnce(ctx, p, record, beforeOtherWrite);
  assert(again !== STALE, "a request's nonce is claimed once: the configuration is confirmed after the first claim");
  return again;
}

const MOVED = Symbol("risk scopes moved");
const STALE = Symbol("configuration moved");

async function screenOnce<T extends { payment_id: string; created_at: Date }>(
  ctx: Ctx,
  p: PaymentScreening,
  record: (db: Kysely<Database>, risk: IntentRisk) => Promise<T | null>,
  beforeOtherWrite: () => Promise<boolean>,
): Promise<T | null | typeof STALE> {
  const now = ctx.clock.now();
  const keys: ScopeKeys = { card_id: p.card.card_id, id_fingerprint: p.card.id_fingerprint, merchant_id: p.merchant_id };
  const counters: CounterAddition = { subject: "payment", keys, id: p.payment_id, at: p.created_at, count: 1n, amount: p.amount };
  const attempt: Attempt = { subject: "payment", keys, amount: p.amount, now, card_since: p.card.created_at };
  const rules = await applicableRules(ctx.db, "payment", p.merchant_id);
  const blocked = await cardBlocklistHits(ctx, p.card, p.blocked);
  const base = { subject: "payment" as const, merchant_id: p.merchant_id, reference: p.out_trade_no, card_id: p.card.card_id, amount: p.amount, rules_evaluated: rules.length, now };
  if (blocked.length > 0) {
    await beforeOtherWrite();
    await storeDecision(ctx.db, { ...base, payment_id: null, outcome: "reject", fired: blocked.map(blockedAsFired) });
    throw rejection("payment", blockedAsFired(blocked[0]!));
  }
  // No rule: nothing to count or decide, the intent's one statement is all (it commits by itself).
  if (rules.length === 0) return record(ctx.db, countersOnly(counters));
  const judged = { ...base, rules, attempt, counters, payment_id: p.payment_id };
  const in_statement = await judgeAndRecord(ctx.db, judged, { how: "in_statement" }, record);
  if (in_statement !== MOVED) return rejectedOr(ctx, base, in_statement, beforeOtherWrite);
  // An enforced reject rule fired in the statement (or would have): judged again under the locks,
  // where a reject is stored with its reasons.
  const locked = await ctx.db.transaction().execute(async (trx) => judgeAndRecord(trx, judged, { how: "locked" }, record));
  assert(locked !== MOVED, "a payment judged under its scope locks cannot find them moved");
  return rejectedOr(ctx, base, locked, beforeOtherWrite);
}

interface Judged extends Omit<DecisionInput, "outcome" | "fired" | "payment_id"> {
  rules: readonly RiskRuleRow[];
  attempt: Attempt;
  counters: CounterAddition;
  payment_id: string;
}

/** Rejected (with the rules that fired), or recorded with its decision (the payment, or null on a conflict). */
type Judgement<T> = { outcome: "reject"; fired: FiredRule[] } | { outcome: "recorded"; payment: T | null };

/**
 * Judges, then records the intent with its decision unless rejected. In the statement: the
 * intent's statement takes the scope locks, counts and judges (`judgeInStatement`), and writes
 * nothing when an enforced reject rule fires (answers MOVED). Locked (in a transaction): the locks
 * are taken, then the count, then the judgement here.
 */
async function judgeAndRecord<T>(
  db: Kysely<Database>,
  j: Judged,
  mode: { how: "in_statement" } | { how: "locked" },
  record: (db: Kysely<Database>, risk: IntentRisk) => Promise<T | null>,
): Promise<Judgement<T> | typeof MOVED> {
  const locks = lockKeys(j.rules, j.attempt.keys, "payment");
  const { rules: _r, attempt: _a, counters, ...base } = j;
  if (mode.how === "in_statement") {
    const guard = judgeInStatement(j.rules, j.attempt, locks, j.payment_id);
    const writes = (inserted: string) => judgedDecisionInserts(base, inserted);
    try {
      return { outcome: "recorded", payment: await record(db, { counters, guard, writes }) };
    } catch (err) {
      if (err instanceof RiskScopesMoved) return MOVED;
      throw err;
    }
  }
  await lockScopes(db, locks);
  const fired = judgeRules(j.rules, j.attempt, await countWindows(db, j.rules, j.attempt, []));
  const outcome = outcomeOf(fired);
  if (outcome === "reject") return { outcome, fired };
  const writes = (inserted: string) => decisionInserts({ ...base, outcome, fired }, inserted);
  return { outcome: "recorded", payment: await record(db, { counters, guard: null, writes }) };
}

/**
 * A reject stores its decision (no payment) and throws, unless the configuration its rules were
 * cached under has moved (STALE: judge again); anything else answers the payment (its intent's
 * statement checked the version).
 */
async function rejectedOr<T>(
  ctx: Ctx,
  base: Omit<DecisionInput, "outcome" | "fired" | "payment_id">,
  j: Judgement<T>,
  beforeOtherWrite: () => Promise<boolean>,
): Promise<T | null | typeof STALE> {
  if (j.outcome !== "reject") return j.payment;
  if (await beforeOtherWrite()) return STALE;
  await storeDecision(ctx.db, { ...base, payment_id: null, outcome: "reject", fired: j.fired });
  throw rejection("payment", j.fired.find((f) => f.mode === "enforce" && f.action === "reject")!);
}

export interface SigningScreening {
  merchant_id: string;
  card: CardRow;
  /** The phone submitted with the card (the one the bank will text). */
  phone: string;
  out_request_no: string;
}

/**
 * The risk check of a signing, run before anything is recorded or sent: blocklists, then the
 * signing rules (signings per ID holder, phone, card or merchant ID in a window), the way a
 * payment is checked. The rules come from the configuration cache; the blocklist read (with the
 * phone submitted) and the count of the rules' windows run concurrently, without locks; then one
 * statement records the signing — its row, its counter buckets and, when a rule fired, its
 * decision — and commits by itself. When an enforced reject rule counts a scope, that statement
 * first takes the scope's advisory lock and re-checks the scope's attempts (`scopesUnchanged`):
 * if a signing of the scope was recorded since the count, it writes nothing and the signing is
 * judged again in a transaction that takes the locks before it counts. Exact under concurrency,
 * no shared counter row, and 2 statements (1 + 1 without rules) where the transaction took 5–6.
 */
export async function screenSigning(ctx: Ctx, s: SigningScreening): Promise<void> {
  const now = ctx.clock.now();
  const keys: ScopeKeys = { card_id: s.card.card_id, id_fingerprint: s.card.id_fingerprint, merchant_id: s.merchant_id, phone_fingerprint: blockFingerprint(ctx.box, "phone", s.phone) };
  const attempt: Attempt = { subject: "signing", keys, amount: 0n, now, card_since: s.card.created_at };
  const rules = await applicableRules(ctx.db, "signing", s.merchant_id);
  const locks = lockKeys(rules, keys, "signing");
  const [blocked, counted] = await Promise.all([
    blocklistHits(ctx.db, [
      { kind: "card_number", fingerprint: s.card.card_fingerprint },
      { kind: "id_number", fingerprint: s.card.id_fingerprint },
      { kind: "phone", fingerprint: keys.phone_fingerprint! },
    ]),
    rules.length > 0 ? countWindows(ctx.db, rules, attempt, locks) : null,
  ]);
  const base = { subject: "signing" as const, merchant_id: s.merchant_id, reference: s.out_request_no, card_id: s.card.card_id, amount: null, payment_id: null, rules_evaluated: rules.length, now };
  if (blocked.length > 0) {
    await storeDecision(ctx.db, { ...base, outcome: "reject", fired: blocked.map(blockedAsFired) });
    throw rejection("signing", blockedAsFired(blocked[0]!));
  }
  const row: RiskSigningRow = { signing_id: newId("rsg", now.getTime()), merchant_id: s.merchant_id, card_id: s.card.card_id, id_fingerprint: keys.id_fingerprint, phone_fingerprint: keys.phone_fingerprint!, created_at: now };
  const judged: SigningJudged = { base, rules, attempt, row };
  let fired = await judgeAndRecordSigning(ctx.db, judged, { how: "unlocked", counted });
  if (fired === MOVED) fired = await ctx.db.transaction().execute(async (trx) => judgeAndRecordSigning(trx, judged, { how: "locked" }));
  assert(fired !== MOVED, "a signing judged under its scope locks cannot find them moved");
  if (outcomeOf(fired) === "reject") {
    await storeDecision(ctx.db, { ...base, outcome: "reject", fired });
    throw rejection("signing", fired.find((f) => f.mode === "enforce" && f.action === "reject")!);
  }
}

interface SigningJudged {
  base: Omit<DecisionInput, "outcome" | "fired">;
  rules: readonly RiskRuleRow[];
  attempt: Attempt;
  row: RiskSigningRow;
}

/**
 * Judges a signing and records it unless rejected; answers the rules that fired. Unlocked: on
 * the count made without locks (null: no rule), the record statement takes the scope locks and
 * re-checks (MOVED when the count moved; nothing written). Locked (in a transaction): the locks
 * are taken, then the count.
 */
async function judgeAndRecordSigning(db: Kysely<Database>, j: SigningJudged, mode: { how: "unlocked"; counted: Counted | null } | { how: "locked" }): Promise<FiredRule[] | typeof MOVED> {
  const locks = lockKeys(j.rules, j.attempt.keys, "signing");
  if (mode.how === "locked") await lockScopes(db, locks);
  const counted = mode.how === "unlocked" ? mode.counted : j.rules.length > 0 ? await countWindows(db, j.rules, j.attempt, []) : null;
  const fired = counted === null ? [] : judgeRules(j.rules, j.attempt, counted);
  const outcome = outcomeOf(fired);
  if (outcome === "reject") return fired;
  const guard = mode.how === "unlocked" && counted !== null && locks.length > 0 ? scopesUnchanged(locks, counted.checks) : null;
  const decision = fired.length > 0 ? { ...j.base, outcome, fired } : null;
  return (await recordSigning(db, j.row, j.attempt.keys, guard, decision)) ? fired : MOVED;
}

/**
 * One statement: the signing's row, its counter buckets and its decision (when a rule fired),
 * all only if the guard (the scope locks and the re-check) answers true. Answers the guard.
 */
async function recordSigning(db: Kysely<Database>, row: RiskSigningRow, keys: ScopeKeys, guard: RawBuilder<boolean> | null, decision: DecisionInput | null): Promise<boolean> {
  const writes = [counterUpsert({ subject: "signing", keys, id: row.signing_id, at: row.created_at, count: 1n, amount: 0n }, "s"), ...(decision ? decisionInserts(decision, "s") : [])];
  const r = await sql<{ ok: boolean }>`WITH
    g AS (SELECT ${guard ?? sql<boolean>`true`} AS ok),
    s AS (INSERT INTO risk_signings (signing_id, merchant_id, card_id, id_fingerprint, phone_fingerprint, created_at)
      SELECT ${row.signing_id}::text, ${row.merchant_id}::text, ${row.card_id}::text, ${row.id_fingerprint}::text, ${row.phone_fingerprint}::text, ${row.created_at}::timestamptz
      WHERE (SELECT ok FROM g) RETURNING signing_id),
    ${namedWrites(writes)}
    SELECT (SELECT ok FROM g) AS ok`.execute(db);
  return r.rows[0]!.ok;
}

function blockedAsFired(entry: BlocklistHit): FiredRule {
  const what = { card_number: "card number", id_number: "ID number", phone: "phone" }[entry.kind];
  return {
    rule_id: entry.entry_id,
    name: `blocklist: ${what}`,
    kind: "blocklist",
    scope: entry.kind,
    action: "reject",
    mode: "enforce",
    window_seconds: null,
    max_count: null,
    max_amount: null,
    observed_count: null,
    observed_amount: null,
    explanation: `the ${what} ending ${entry.hint.slice(-4)} is on the blocklist (entry ${entry.entry_id})`,
  };
}

function rejection(subject: RuleSubject, rule: FiredRule): PaycoreError {
  const noun = subject === "payment" ? "payment" : "signing";
  return new PaycoreError("risk_rejected", `${noun} refused by risk rule ${rule.rule_id} (${rule.name}): ${rule.explanation}`);
}

interface DecisionInput {
  subject: RuleSubject;
  merchant_id: string;
  payment_id: string | null;
  reference: string;
  card_id: string;
  amount: bigint | null;
  outcome: DecisionOutcome;
  rules_evaluated: number;
  fired: FiredRule[];
  now: Date;
}

/** The decision with its reasons; a review also raises an alert for operators. */
async function storeDecision(db: Kysely<Database>, d: DecisionInput): Promise<void> {
  for (const insert of decisionInserts(d, null)) await insert.execute(db);
}

/**
 * The decision's insert and, for a review, its alert's: statements of their own, or parts of the
 * intent's statement that write only if the payment went in (`inserted` names its CTE).
 */
function decisionInserts(d: DecisionInput, inserted: string | null): RawBuilder<unknown>[] {
  const only_if = inserted === null ? sql`` : sql` WHERE EXISTS (SELECT 1 FROM ${sql.id(inserted)})`;
  const inserts = [
    sql`INSERT INTO risk_decisions (decision_id, subject, merchant_id, payment_id, reference, card_id, amount, outcome, rules_evaluated, fired, created_at)
      SELECT ${newId("rdc", d.now.getTime())}::text, ${d.subject}::text, ${d.merchant_id}::text, ${d.payment_id}::text, ${d.reference}::text, ${d.card_id}::text,
        ${d.amount}::int8, ${d.outcome}::text, ${d.rules_evaluated}::int4, ${JSON.stringify(d.fired)}::jsonb, ${d.now}::timestamptz${only_if}`,
  ];
  if (d.outcome !== "review") return inserts;
  const review = d.fired.find((f) => f.mode === "enforce" && f.action === "review")!;
  const kind = d.subject === "payment" ? "payment_review" : "signing_review";
  const message = `${d.subject} ${d.payment_id ?? d.reference} let through for review by rule ${review.rule_id} (${review.name}): ${review.explanation}`;
  inserts.push(sql`INSERT INTO risk_alerts (alert_id, kind, merchant_id, payment_id, rule_id, message, status, created_at, closed_at, closed_by)
    SELECT ${newId("ral", d.now.getTime())}::text, ${kind}::text, ${d.merchant_id}::text, ${d.payment_id}::text, ${review.rule_id}::text, ${message}::text,
      'open', ${d.now}::timestamptz, NULL, NULL${only_if}`);
  return inserts;
}

/**
 * The decision's insert and a review's alert's, as parts of the intent's statement, with the
 * outcome and the rules that fired as `risk_payment_judge` judged them in the statement (read
 * back by `risk_payment_decision`, given the id of the payment row that went in: after the guard).
 */
function judgedDecisionInserts(d: Omit<DecisionInput, "outcome" | "fired">, inserted: string): RawBuilder<unknown>[] {
  const t = judgedInsertTemplates(inserted);
  return [
    sql`${t.decision(newId("rdc", d.now.getTime()), d.subject, d.merchant_id, d.payment_id, d.reference, d.card_id, d.amount, d.rules_evaluated, d.now)}`,
    sql`${t.alert(newId("ral", d.now.getTime()), d.merchant_id, d.payment_id, d.now)}`,
  ];
}

type DecisionArgs = [string, RuleSubject, string, string | null, string, string, bigint | null, number, Date];
type AlertArgs = [string, string, string | null, Date];

/** The two inserts of `judgedDecisionInserts`, built and compiled once per name of the payment's CTE (src/db/template.ts). */
const JUDGED_INSERTS = new Map<string, { decision: (...a: DecisionArgs) => OperationNodeSource; alert: (...a: AlertArgs) => OperationNodeSource }>();

function judgedInsertTemplates(inserted: string) {
  let t = JUDGED_INSERTS.get(inserted);
  if (t === undefined) {
    const judged = sql`${sql.id(inserted)} CROSS JOIN LATERAL risk_payment_decision(${sql.id(inserted)}.payment_id) AS d`;
    t = {
      decision: fragmentTemplate<DecisionArgs>(9, (decision_id, subject, merchant_id, payment_id, reference, card_id, amount, rules_evaluated, now) =>
        sql`INSERT INTO risk_decisions (decision_id, subject, merchant_id, payment_id, reference, card_id, amount, outcome, rules_evaluated, fired, created_at)
          SELECT ${decision_id}::text, ${subject}::text, ${merchant_id}::text, ${payment_id}::text, ${reference}::text, ${card_id}::text,
            ${amount}::int8, d.outcome, ${rules_evaluated}::int4, d.fired, ${now}::timestamptz FROM ${judged}`),
      alert: fragmentTemplate<AlertArgs>(4, (alert_id, merchant_id, payment_id, now) =>
        sql`INSERT INTO risk_alerts (alert_id, kind, merchant_id, payment_id, rule_id, message, status, created_at, closed_at, closed_by)
          SELECT ${alert_id}::text, 'payment_review', ${merchant_id}::text, ${payment_id}::text, d.alert_rule_id, d.alert,
            'open', ${now}::timestamptz, NULL, NULL FROM ${judged} WHERE d.outcome = 'review'`),
    };
    JUDGED_INSERTS.set(inserted, t);
  }
  return t;
}
