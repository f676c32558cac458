import { sql, type Kysely, type RawBuilder } from "kysely";
import type { Database } from "../db/index.ts";
import { fragmentTemplate } from "../db/template.ts";
import { assert } from "../kernel/assert.ts";
import { formatYuan } from "../kernel/money.ts";
import { arrayLiteral, checkFrom, PAYMENT_SCOPE_CODE, RISK_LOCK_CLASS, scopeKey, windowUsage, type ScopeCheck, type ScopeKeys, type Usage, type WindowQuery } from "./counters.ts";
import type { DecisionOutcome, RiskRuleRow, RuleScope, RuleSubject } from "./rows.ts";

/** One rule that fired, with the figures that made it fire: what operators read. */
export interface FiredRule {
  rule_id: string;
  name: string;
  kind: RiskRuleRow["kind"] | "blocklist";
  scope: RuleScope | "card_number" | "id_number" | "phone";
  action: RiskRuleRow["action"];
  mode: RiskRuleRow["mode"];
  window_seconds: number | null;
  max_count: number | null;
  max_amount: string | null;
  /** Including the payment or signing being decided. */
  observed_count: number | null;
  observed_amount: string | null;
  explanation: string;
}

export interface Attempt {
  subject: RuleSubject;
  keys: ScopeKeys;
  /** The payment's amount (fen); 0 for a signing. */
  amount: bigint;
  now: Date;
  /** When paycore first saw the card (its first signing): first-payment caps count from here. */
  card_since: Date;
}

/** Each rule's window start for this attempt (first-payment caps: since the card was signed). */
function windowStart(rule: RiskRuleRow, a: Attempt): Date {
  return rule.kind === "first_payment" ? a.card_since : new Date(a.now.getTime() - rule.window_seconds * 1000);
}

/** What one counting statement read: the windows, each one's usage, the check totals. */
export interface Counted {
  windows: WindowQuery[];
  usage: Usage[];
  checks: ScopeCheck[];
}

/**
 * Counts what each rule's scope has done in its window: one statement for all rules (rules
 * sharing a scope and a window start share a window). The same statement reads a check total
 * for each scope in `check_keys` that a window counts (see `scopesUnchanged`): the attempts the
 * rules are judged on.
 */
export async function countWindows(db: Kysely<Database>, rules: readonly RiskRuleRow[], a: Attempt, check_keys: readonly string[]): Promise<Counted> {
  const { windows } = ruleWindows(rules, a);
  const checks = [...new Set(check_keys)].flatMap((scope_key) => {
    const counted = windows.filter((w) => scopeKey(a.subject, w.scope, a.keys) === scope_key);
    return counted.length === 0 ? [] : [{ scope_key, from: checkFrom(counted), count: 0n }];
  });
  const usage = await windowUsage(db, a.subject, a.keys, windows, checks);
  return { windows, usage, checks };
}

const windowId = (w: WindowQuery) => `${w.scope}@${w.since.getTime()}`;

/** The rules this attempt would break, judged on a count of their windows. */
export function judgeRules(rules: readonly RiskRuleRow[], a: Attempt, counted: Counted): FiredRule[] {
  const { live } = ruleWindows(rules, a);
  const usage = new Map(counted.windows.map((w, i) => [windowId(w), counted.usage[i]!]));
  const fired: FiredRule[] = [];
  for (const rule of live) {
    const used = usage.get(windowId({ scope: rule.scope, since: windowStart(rule, a) }));
    assert(used !== undefined, "a rule was judged on a count without its window");
    const hit = judge(rule, used, a);
    if (hit) fired.push(hit);
  }
  return fired;
}

/** Counts and judges in one go: the rules this attempt would break, and the check totals read. */
export async function evaluateRules(
  db: Kysely<Database>,
  rules: readonly RiskRuleRow[],
  a: Attempt,
  check_keys: readonly string[] = [],
): Promise<{ fired: FiredRule[]; checks: ScopeCheck[] }> {
  const counted = await countWindows(db, rules, a, check_keys);
  return { fired: judgeRules(rules, a, counted), checks: counted.checks };
}

/** A first-payment cap applies while the card is younger than its window; every other rule always. */
function isLive(rule: RiskRuleRow, a: Attempt): boolean {
  return !(rule.kind === "first_payment" && a.now.getTime() - a.card_since.getTime() >= rule.window_seconds * 1000);
}

/**
 * The windows the rules count for this attempt, each once (rules sharing a scope and a window
 * start share it), and each live rule's window. A first-payment cap no longer applies once the
 * card is older than its window.
 */
export function ruleWindows(rules: readonly RiskRuleRow[], a: Attempt): { live: RiskRuleRow[]; windows: WindowQuery[]; window_of: number[] } {
  const live = rules.filter((rule) => isLive(rule, a));
  const windows: WindowQuery[] = [];
  const index = new Map<string, number>();
  const window_of = live.map((rule) => {
    const since = windowStart(rule, a);
    const id = windowId({ scope: rule.scope, since });
    if (!index.has(id)) {
      index.set(id, windows.length);
      windows.push({ scope: rule.scope, since });
    }
    return index.get(id)!;
  });
  return { live, windows, window_of };
}

const SCOPE_WORDS: Record<RuleScope, string> = { card: "this card", id_holder: "this ID holder's cards", merchant: "this merchant ID", phone: "this phone" };

function judge(rule: RiskRuleRow, used: Usage, a: Attempt): FiredRule | null {
  const count = used.count + 1n;
  const amount = used.amount + a.amount;
  const over_count = rule.max_count !== null && count > BigInt(rule.max_count);
  const over_amount = rule.max_amount !== null && amount > rule.max_amount;
  if (!over_count && !over_amount) return null;
  const explanation = over_count ? overCountText(rule, a.subject, count.toString()) : overAmountText(rule, formatYuan(amount));
  return {
    ...firedFields(rule),
    observed_count: Number(count),
    observed_amount: a.subject === "payment" ? amount.toString() : null,
    explanation,
  };
}

/** What a fired rule says of itself whatever the figures. */
function firedFields(rule: RiskRuleRow): Omit<FiredRule, "observed_count" | "observed_amount" | "explanation"> {
  return {
    rule_id: rule.rule_id,
    name: rule.name,
    kind: rule.kind,
    scope: rule.scope,
    action: rule.action,
    mode: rule.mode,
    window_seconds: rule.window_seconds,
    max_count: rule.max_count,
    max_amount: rule.max_amount === null ? null : rule.max_amount.toString(),
  };
}

const span = (rule: RiskRuleRow) => (rule.kind === "first_payment" ? "since the card was signed" : `in ${rule.window_seconds} s`);

/** The words of a rule over its count, given the count (this attempt included). */
function overCountText(rule: RiskRuleRow, subject: RuleSubject, count: string): string {
  const noun = subject === "payment" ? "payments" : "signings";
  return `${SCOPE_WORDS[rule.scope]}: ${count} ${noun} ${span(rule)} with this one, over the limit of ${rule.max_count}`;
}

/** The words of a rule over its amount, given the amount in yuan (this payment included). */
function overAmountText(rule: RiskRuleRow, yuan: string): string {
  assert(rule.max_amount !== null, "only an amount limit is over its amount");
  return `${SCOPE_WORDS[rule.scope]}: ${yuan} yuan ${span(rule)} with this payment, over the limit of ${formatYuan(rule.max_amount)} yuan`;
}

/**
 * The guard of a payment's intent statement that counts and judges its rules in the statement
 * (`risk_payment_judge`, migrations 1850, 1960 and 2260): it takes the scope locks, counts with a
 * snapshot taken after them every window some rule can fire in, and answers false when an
 * enforced reject rule fires (the statement writes nothing; the payment is judged again under the
 * locks, which stores the reject). Otherwise it keeps the decision for `judgedDecisionInserts`.
 * The same judgement as `judgeRules`: the thresholds and the words come from here (`{count}` and
 * `{yuan}` are filled in by the function).
 *
 * Each window goes with its rooms (`windowRooms`): a window whose scope's bound fits in them is not
 * counted, since none of its rules can fire in it (migration 2260).
 */
export function judgeInStatement(rules: readonly RiskRuleRow[], a: Attempt, lock_keys: readonly string[], payment_id: string): RawBuilder<boolean> {
  assert(a.subject === "payment", "only payments are judged in their intent's statement");
  const shape = judgeShape(rules, a);
  const now = a.now.getTime();
  const since = shape.windows.map((w) => (w.seconds === null ? a.card_since.getTime() : now - w.seconds * 1000));
  const amount_room = shape.amount_max.map((max) => (max === null ? null : max - a.amount));
  const call = JUDGE_CALL(arrayLiteral([...new Set(lock_keys)]), a.keys.card_id, a.keys.id_fingerprint, a.keys.merchant_id, shape.scopes, arrayLiteral(since),
    shape.count_room, arrayLiteral(amount_room), payment_id, a.amount, shape.window_of, shape.max_count, shape.max_amount, shape.effect, shape.fields);
  return sql<boolean>`${call}`;
}

/** The call of `risk_payment_judge` (migration 2260), built and compiled once: every argument a parameter. */
const JUDGE_CALL = fragmentTemplate<[string, string, string, string, string, string, string, string, string, bigint, string, string, string, string, string]>(
  15,
  (lock_keys, k_card, k_id, k_merchant, scopes, since, count_room, amount_room, payment_id, amount, window_of, max_count, max_amount, effect, fields) =>
    sql`risk_payment_judge(${RISK_LOCK_CLASS}::int, ${lock_keys}::text[], ${k_card}::text, ${k_id}::text, ${k_merchant}::text, ${scopes}::int2[], ${since}::int8[],
      ${count_room}::int8[], ${amount_room}::int8[], ${payment_id}::text, ${amount}::int8,
      ${window_of}::int[], ${max_count}::int8[], ${max_amount}::int8[], ${effect}::text[], ${fields}::text[])`,
);

/**
 * What a payment under a rule set sends to `risk_payment_judge` whatever its card, amount and
 * instant: the windows (a scope and a length, or since the card was signed), each live rule's
 * window, limits, effect and fields as array literals, each window's count room and least amount
 * limit. The same as `ruleWindows` and `windowRooms` give, with windows told apart by their length
 * rather than their start.
 */
interface JudgeShape {
  windows: { scope: "card" | "id_holder" | "merchant"; seconds: number | null }[];
  scopes: string;
  count_room: string;
  /** Each window's least max_amount over its rules (its amount room is that less the payment's amount). */
  amount_max: (bigint | null)[];
  window_of: string;
  max_count: string;
  max_amount: string;
  effect: string;
  fields: string;
}

/**
 * Shapes kept per rule set (the frozen array `applicableRules` answers for a merchant ID until a
 * rule changes) and per first-payment cap still live for the card (a string of 0 and 1): a
 * payment under rules then sends arrays made once, not built from its 20 rules again (~70 µs of
 * paycore's CPU a payment in the bench's profile, 2026-12-03).
 */
const judge_shapes = new WeakMap<readonly RiskRuleRow[], Map<string, JudgeShape>>();

function judgeShape(rules: readonly RiskRuleRow[], a: Attempt): JudgeShape {
  // A cap is live while the card is younger than its window, so k caps give at most k + 1 masks.
  let mask = "";
  for (const rule of rules) if (rule.kind === "first_payment") mask += isLive(rule, a) ? "1" : "0";
  const kept = Object.isFrozen(rules) ? judge_shapes.get(rules)?.get(mask) : undefined;
  if (kept !== undefined) return kept;
  const live = rules.filter((rule) => isLive(rule, a));
  const windows: JudgeShape["windows"] = [];
  const index = new Map<string, number>();
  const window_of = live.map((rule) => {
    assert(rule.scope !== "phone", "payments are not counted per phone");
    const seconds = rule.kind === "first_payment" ? null : rule.window_seconds;
    const id = `${rule.scope}@${seconds ?? "card"}`;
    if (!index.has(id)) {
      index.set(id, windows.length);
      windows.push({ scope: rule.scope, seconds });
    }
    return index.get(id)!;
  });
  const rooms = windowRooms(live, window_of, windows.length);
  const effect = (r: RiskRuleRow) => (r.mode === "shadow" ? "shadow" : r.action);
  const shape: JudgeShape = {
    windows,
    scopes: arrayLiteral(windows.map((w) => PAYMENT_SCOPE_CODE[w.scope])),
    count_room: arrayLiteral(rooms.count),
    amount_max: rooms.amount,
    window_of: arrayLiteral(window_of),
    max_count: arrayLiteral(live.map((r) => r.max_count)),
    max_amount: arrayLiteral(live.map((r) => r.max_amount)),
    effect: arrayLiteral(live.map(effect)),
    fields: `{${live.map(judgedFieldsElement).join(",")}}`,
  };
  if (Object.isFrozen(rules)) {
    let per_mask = judge_shapes.get(rules);
    if (per_mask === undefined) judge_shapes.set(rules, (per_mask = new Map()));
    per_mask.set(mask, shape);
  }
  return shape;
}

/**
 * Each window's count room, the most its scope may have counted before the attempt with none of
 * the window's rules firing on count (the least max_count − 1 over its rules: a rule fires when
 * count + 1 > max_count), and its least max_amount (its amount room is that less the attempt's
 * amount: a rule fires when amount + the attempt's > max_amount); null where none of its rules
 * limits that figure.
 */
function windowRooms(live: readonly RiskRuleRow[], window_of: readonly number[], windows: number): { count: (bigint | null)[]; amount: (bigint | null)[] } {
  const count: (bigint | null)[] = Array.from({ length: windows }, () => null);
  const amount: (bigint | null)[] = Array.from({ length: windows }, () => null);
  const least = (kept: bigint | null, limit: bigint) => (kept === null || limit < kept ? limit : kept);
  live.forEach((rule, k) => {
    const w = window_of[k]!;
    if (rule.max_count !== null) count[w] = least(count[w]!, BigInt(rule.max_count) - 1n);
    if (rule.max_amount !== null) amount[w] = least(amount[w]!, rule.max_amount);
  });
  return { count, amount };
}

/** Each cached rule row's fields and words as an element of `risk_payment_judge`'s text array, made once per row. */
const judged_fields = new WeakMap<RiskRuleRow, string>();

/**
 * A rule's fields and its two explanation templates (`{count}`, `{yuan}`) as JSON, quoted as an
 * element of a PostgreSQL array literal. The rows of the configuration cache are frozen and shared
 * by every payment until a rule changes, so the element is kept per row: ~50 µs of the client's
 * CPU per payment under 20 rules otherwise (a tight loop, 2026-12-02). A row that is not frozen
 * (a caller's own) is encoded every time.
 */
function judgedFieldsElement(r: RiskRuleRow): string {
  const kept = judged_fields.get(r);
  if (kept !== undefined) return kept;
  const json = JSON.stringify({
    ...firedFields(r),
    count_text: r.max_count === null ? null : overCountText(r, "payment", "{count}"),
    amount_text: r.max_amount === null ? null : overAmountText(r, "{yuan}"),
  });
  const element = arrayLiteral([json]).slice(1, -1);
  if (Object.isFrozen(r)) judged_fields.set(r, element);
  return element;
}

/** Enforced rules decide; shadow rules are only recorded. A reject beats a review. */
export function outcomeOf(fired: readonly FiredRule[]): DecisionOutcome {
  const enforced = fired.filter((f) => f.mode === "enforce");
  if (enforced.some((f) => f.action === "reject")) return "reject";
  if (enforced.some((f) => f.action === "review")) return "review";
  return "allow";
}

/** The scopes whose counts must not move between the check and the record: enforced reject rules'. */
export function lockKeys(rules: readonly RiskRuleRow[], keys: ScopeKeys, subject: RuleSubject): string[] {
  return rules.filter((r) => r.mode === "enforce" && r.action === "reject").map((r) => scopeKey(subject, r.scope, keys));
}
