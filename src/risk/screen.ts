import type { Kysely } from "kysely";
import type { Ctx } from "../context.ts";
import type { CardRow, Database } from "../db/index.ts";
import { PaycoreError } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import { blockFingerprint, blocklistHits } from "./blocklist.ts";
import { addToCounters, lockScopes, type CounterAddition, type ScopeKeys } from "./counters.ts";
import { evaluateRules, lockKeys, outcomeOf, type Attempt, type FiredRule } from "./evaluate.ts";
import type { DecisionOutcome, RiskBlocklistRow, RuleSubject } from "./rows.ts";
import { applicableRules } from "./rules.ts";

export interface PaymentScreening {
  merchant_id: string;
  card: CardRow;
  amount: bigint;
  out_trade_no: string;
  /** The id and creation time the payment will have: its counter buckets follow from them. */
  payment_id: string;
  created_at: Date;
}

/**
 * The one risk check of a payment, run before its intent is recorded. `record` inserts the
 * intent with the database handle it is given, adding the payment to its counter buckets in the
 * same statement (src/payments/intent.ts), and answers the row (or null when a concurrent
 * request with the same out_trade_no won). The check, the insert, the decision and the counter
 * buckets commit together; when an enforced reject rule counts a scope, that transaction holds
 * the scope's lock from before the count, so two payments cannot both pass a limit only one of
 * them fits under. A reject throws `risk_rejected` naming the rule and nothing is recorded but
 * the decision (after `beforeOtherWrite`, which claims a deferred request nonce).
 *
 * Statements: the rules and the blocklist (two, concurrently), then with rules BEGIN, the scope
 * locks (one statement, only with enforced reject rules), the count, the intent, the decision
 * (and an alert for a review), COMMIT; with no rule, only the intent's statement.
 */
export async function screenPayment<T extends { payment_id: string; created_at: Date }>(
  ctx: Ctx,
  p: PaymentScreening,
  record: (db: Kysely<Database>, counters: CounterAddition) => Promise<T | null>,
  beforeOtherWrite: () => Promise<void> = async () => {},
): Promise<T | null> {
  const now = ctx.clock.now();
  const keys: ScopeKeys = { card_id: p.card.card_id, id_fingerprint: p.card.id_fingerprint, merchant_id: p.merchant_id };
  const counters: CounterAddition = { subject: "payment", keys, id: p.payment_id, at: p.created_at, count: 1n, amount: p.amount };
  const [rules, blocked] = await Promise.all([applicableRules(ctx.db, "payment", p.merchant_id), blockedElements(ctx, p.card)]);
  const base = { subject: "payment" as const, merchant_id: p.merchant_id, reference: p.out_trade_no, card_id: p.card.card_id, amount: p.amount, rules_evaluated: rules.length, now };
  if (blocked.length > 0) {
    await beforeOtherWrite();
    await storeDecision(ctx.db, { ...base, payment_id: null, outcome: "reject", fired: blocked.map(blockedAsFired) });
    throw rejection("payment", blockedAsFired(blocked[0]!));
  }
  // No rule: nothing to count or decide, the intent's one statement is all (it commits by itself).
  if (rules.length === 0) return record(ctx.db, counters);
  const attempt: Attempt = { subject: "payment", keys, amount: p.amount, now, card_since: p.card.created_at };
  const locks = lockKeys(rules, keys, "payment");
  const result = await ctx.db.transaction().execute(async (trx) => {
    await lockScopes(trx, locks);
    const fired = await evaluateRules(trx, rules, attempt);
    const outcome = outcomeOf(fired);
    if (outcome === "reject") return { fired, outcome, payment: null };
    const payment = await record(trx, counters);
    if (payment) await storeDecision(trx, { ...base, payment_id: payment.payment_id, outcome, fired });
    return { fired, outcome, payment };
  });
  if (result.outcome === "reject") {
    await beforeOtherWrite();
    await storeDecision(ctx.db, { ...base, payment_id: null, outcome: "reject", fired: result.fired });
    throw rejection("payment", result.fired.find((f) => f.mode === "enforce" && f.action === "reject")!);
  }
  return result.payment;
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
 * signing rules (signings per ID holder, phone, card or merchant ID in a window). A signing that
 * passes leaves a row and its counter buckets, in the transaction of the check; one held by an
 * enforced reject rule does so under its scope's lock.
 */
export async function screenSigning(ctx: Ctx, s: SigningScreening): Promise<void> {
  const now = ctx.clock.now();
  const keys: ScopeKeys = { card_id: s.card.card_id, id_fingerprint: s.card.id_fingerprint, merchant_id: s.merchant_id, phone_fingerprint: blockFingerprint(ctx.box, "phone", s.phone) };
  const rules = await applicableRules(ctx.db, "signing", s.merchant_id);
  const blocked = await blocklistHits(ctx.db, [
    { kind: "card_number", fingerprint: s.card.card_fingerprint },
    { kind: "id_number", fingerprint: s.card.id_fingerprint },
    { kind: "phone", fingerprint: keys.phone_fingerprint! },
  ]);
  const base = { subject: "signing" as const, merchant_id: s.merchant_id, reference: s.out_request_no, card_id: s.card.card_id, amount: null, payment_id: null, rules_evaluated: rules.length, now };
  if (blocked.length > 0) {
    await storeDecision(ctx.db, { ...base, outcome: "reject", fired: blocked.map(blockedAsFired) });
    throw rejection("signing", blockedAsFired(blocked[0]!));
  }
  const attempt: Attempt = { subject: "signing", keys, amount: 0n, now, card_since: s.card.created_at };
  const locks = lockKeys(rules, keys, "signing");
  const result = await ctx.db.transaction().execute(async (trx) => {
    await lockScopes(trx, locks);
    const fired = rules.length > 0 ? await evaluateRules(trx, rules, attempt) : [];
    const outcome = outcomeOf(fired);
    if (outcome !== "reject") {
      const signing_id = newId("rsg", now.getTime());
      await trx
        .insertInto("risk_signings")
        .values({ signing_id, merchant_id: s.merchant_id, card_id: s.card.card_id, id_fingerprint: keys.id_fingerprint, phone_fingerprint: keys.phone_fingerprint!, created_at: now })
        .execute();
      if (fired.length > 0) await storeDecision(trx, { ...base, outcome, fired });
      await addToCounters(trx, { subject: "signing", keys, id: signing_id, at: now, count: 1n, amount: 0n });
    }
    return { fired, outcome };
  });
  if (result.outcome === "reject") {
    await storeDecision(ctx.db, { ...base, outcome: "reject", fired: result.fired });
    throw rejection("signing", result.fired.find((f) => f.mode === "enforce" && f.action === "reject")!);
  }
}

/** Blocklist matches for the card's number, its holder's ID number and its phone. */
async function blockedElements(ctx: Ctx, card: CardRow): Promise<RiskBlocklistRow[]> {
  const phone = ctx.box.open(card.phone_enc, `card:${card.card_id}:phone`);
  return blocklistHits(ctx.db, [
    { kind: "card_number", fingerprint: card.card_fingerprint },
    { kind: "id_number", fingerprint: card.id_fingerprint },
    { kind: "phone", fingerprint: blockFingerprint(ctx.box, "phone", phone) },
  ]);
}

function blockedAsFired(entry: RiskBlocklistRow): FiredRule {
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
  await db
    .insertInto("risk_decisions")
    .values({
      decision_id: newId("rdc", d.now.getTime()),
      subject: d.subject,
      merchant_id: d.merchant_id,
      payment_id: d.payment_id,
      reference: d.reference,
      card_id: d.card_id,
      amount: d.amount,
      outcome: d.outcome,
      rules_evaluated: d.rules_evaluated,
      fired: JSON.stringify(d.fired),
      created_at: d.now,
    })
    .execute();
  if (d.outcome !== "review") return;
  const review = d.fired.find((f) => f.mode === "enforce" && f.action === "review")!;
  await db
    .insertInto("risk_alerts")
    .values({
      alert_id: newId("ral", d.now.getTime()),
      kind: d.subject === "payment" ? "payment_review" : "signing_review",
      merchant_id: d.merchant_id,
      payment_id: d.payment_id,
      rule_id: review.rule_id,
      message: `${d.subject} ${d.payment_id ?? d.reference} let through for review by rule ${review.rule_id} (${review.name}): ${review.explanation}`,
      status: "open",
      created_at: d.now,
      closed_at: null,
      closed_by: null,
    })
    .execute();
}
