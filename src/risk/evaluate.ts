import { sql, type Kysely, type RawBuilder } from "kysely";
import type { Database } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { formatYuan } from "../kernel/money.ts";
import { arrayLiteral, checkFrom, paymentWindowArgs, RISK_LOCK_CLASS, scopeKey, windowUsage, type ScopeCheck, type ScopeKeys, type Usage, type WindowQuery } from "./counters.ts";
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

/**
 * The windows the rules count for this attempt, each once (rules sharing a scope and a window
 * start share it), and each live rule's window. A first-payment cap no longer applies once the
 * card is older than its window.
 */
export function ruleWindows(rules: readonly RiskRuleRow[], a: Attempt): { live: RiskRuleRow[]; windows: WindowQuery[]; window_of: number[] } {
  const live = rules.filter((rule) => !(rule.kind === "first_payment" && a.now.getTime() - a.card_since.getTime() >= rule.window_seconds * 1000));
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
 * (`risk_payment_judge`, migrations 1850 and 1960): it takes the scope locks, counts every window with a
 * snapshot taken after them, and answers false when an enforced reject rule fires (the statement
 * writes nothing; the payment is judged again under the locks, which stores the reject). Otherwise
 * it keeps the decision for `judgedDecisionInserts`. The same judgement as `judgeRules`: the
 * thresholds and the words come from here (`{count}` and `{yuan}` are filled in by the function).
 */
export function judgeInStatement(rules: readonly RiskRuleRow[], a: Attempt, lock_keys: readonly string[], payment_id: string): RawBuilder<boolean> {
  assert(a.subject === "payment", "only payments are judged in their intent's statement");
  const { live, windows, window_of } = ruleWindows(rules, a);
  const effect = (r: RiskRuleRow) => (r.mode === "shadow" ? "shadow" : r.action);
  const ints = (xs: readonly (number | bigint | null)[], type: "int" | "int8") => sql`${arrayLiteral(xs)}::${sql.raw(type)}[]`;
  return sql<boolean>`risk_payment_judge(${RISK_LOCK_CLASS}::int, ${arrayLiteral([...new Set(lock_keys)])}::text[],
    ${paymentWindowArgs(a.keys, windows)},
    ${payment_id}::text, ${a.amount}::int8,
    ${ints(window_of, "int")}, ${ints(live.map((r) => r.max_count), "int8")}, ${ints(live.map((r) => r.max_amount), "int8")},
    ${arrayLiteral(live.map(effect))}::text[], ${`[${live.map(judgedFieldsJson).join(",")}]`}::jsonb)`;
}

/** Each cached rule row's fields and words as `risk_payment_judge` takes them, made once per row. */
const judged_fields = new WeakMap<RiskRuleRow, string>();

/**
 * A rule's fields and its two explanation templates (`{count}`, `{yuan}`) as JSON. The rows of the
 * configuration cache are frozen and shared by every payment until a rule changes, so the JSON is
 * kept per row: ~50 µs of the client's CPU per payment under 20 rules otherwise (a tight loop,
 * 2026-12-02). A row that is not frozen (a caller's own) is encoded every time.
 */
function judgedFieldsJson(r: RiskRuleRow): string {
  const kept = judged_fields.get(r);
  if (kept !== undefined) return kept;
  const json = JSON.stringify({
    ...firedFields(r),
    count_text: r.max_count === null ? null : overCountText(r, "payment", "{count}"),
    amount_text: r.max_amount === null ? null : overAmountText(r, "{yuan}"),
  });
  if (Object.isFrozen(r)) judged_fields.set(r, json);
  return json;
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
