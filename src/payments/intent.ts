import { sql, type Kysely, type OperationNodeSource, type RawBuilder } from "kysely";
import type { Database, PaymentRow } from "../db/index.ts";
import { SQLSTATE, sqlState } from "../db/errors.ts";
import { fragmentTemplate, splicedTemplate } from "../db/template.ts";
import type { NonceClaim } from "../db/request-nonce.ts";
import { PaycoreError } from "../kernel/errors.ts";
import { LIMITS } from "../kernel/limits.ts";
import { intentRiskWrites, namedWrites, RiskScopesMoved, type IntentRisk } from "../risk/index.ts";

/**
 * The statement that records a payment's intent, and with it, all or nothing:
 * - the request's nonce, when the request deferred claiming it (src/db/request-nonce.ts), only if
 *   the configuration version is still the one the request's cached merchant and key were read
 *   under — otherwise nothing is written and the request is looked at again;
 * - the payment row (nothing on an `out_trade_no` conflict: a concurrent request won);
 * - the payment's risk counter buckets (src/risk/counters.ts) and, when rules applied, its risk
 *   decision, only if the row went in; when the rules were counted without their scope locks,
 *   nothing at all unless the risk guard (taking the locks) answers true.
 * One round trip, and outside a risk rule's transaction one commit: the synchronous path of a
 * payment is this commit and the outcome's (docs/performance.md).
 */
export type IntentResult =
  | { kind: "inserted"; payment: PaymentRow }
  /** A concurrent request with the same out_trade_no recorded its payment first. */
  | { kind: "conflict" }
  /** The nonce was already used: the request is a replay. */
  | { kind: "replayed" }
  /** The configuration moved since the request's cached values were read: nothing was written. */
  | { kind: "stale"; config_version: bigint };

/** Every column's SQL type: an INSERT … SELECT does not take its parameters' types from the table. */
const PAYMENT_COLUMN_TYPES: Record<keyof PaymentRow, string> = {
  payment_id: "text",
  merchant_id: "text",
  sub_merchant_id: "text",
  out_trade_no: "text",
  request_hash: "text",
  agreement_id: "text",
  card_id: "text",
  channel_id: "text",
  card_agreement_id: "text",
  route_reason: "text",
  txn_id: "text",
  network_txn_id: "text",
  amount: "int8",
  currency: "text",
  fee: "int8",
  network_cost: "int8",
  status: "text",
  network_state: "text",
  failure_code: "text",
  failure_message: "text",
  description: "text",
  metadata: "jsonb",
  notify_url: "text",
  refunded_amount: "int8",
  query_attempts: "int4",
  next_query_at: "timestamptz",
  alert: "bool",
  created_at: "timestamptz",
  updated_at: "timestamptz",
  succeeded_at: "timestamptz",
  failed_at: "timestamptz",
};
const PAYMENT_COLUMNS = Object.keys(PAYMENT_COLUMN_TYPES) as (keyof PaymentRow)[];

/** The row's values, each cast to its column's type: built and compiled once (src/db/template.ts). */
const typedValuesList = fragmentTemplate(PAYMENT_COLUMNS.length, (...values: unknown[]) =>
  sql.join(values.map((v, i) => sql`${v}::${sql.raw(PAYMENT_COLUMN_TYPES[PAYMENT_COLUMNS[i]!])}`)),
);

function typedValues(row: PaymentRow): OperationNodeSource {
  return typedValuesList(...PAYMENT_COLUMNS.map((c) => row[c]));
}

type IntentOut = PaymentRow & { config_version: bigint; nonce_ok: boolean; risk_ok: boolean };

const PAYMENT_COLUMN_LIST = sql.join(PAYMENT_COLUMNS.map((c) => sql.id(c)));
const INTENT_FOOT = sql`
    SELECT v.version AS config_version, EXISTS (SELECT 1 FROM n) AS nonce_ok, true AS risk_ok, p.* FROM v LEFT JOIN p ON true`;

/**
 * The intent's statement with no risk guard (no enforced reject rule applies: nearly every
 * payment), built and compiled once with a nonce claim and once without (src/db/template.ts);
 * the risk writes in its middle are built by the risk module per payment. The payment row's values
 * come first, then the nonce's.
 */
const INTENT_WITH_NONCE = splicedTemplate<unknown[], IntentOut>(PAYMENT_COLUMNS.length + 5, (...a) => {
  const [merchant_id, nonce, expires_at, read_under, stale_before] = a.slice(PAYMENT_COLUMNS.length);
  return {
    head: sql`WITH
    v AS (SELECT version FROM config_version WHERE singleton),
    n AS (INSERT INTO api_nonces (merchant_id, nonce, expires_at) SELECT * FROM (VALUES (${merchant_id}::text, ${nonce}::text, ${expires_at}::timestamptz)) AS x WHERE (SELECT version FROM v) = ${read_under}::int8
        ON CONFLICT (merchant_id, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE api_nonces.expires_at < ${stale_before}::timestamptz
        RETURNING 1 AS ok),
    p AS (INSERT INTO payments (${PAYMENT_COLUMN_LIST}) SELECT ${typedValuesList(...a.slice(0, PAYMENT_COLUMNS.length))} WHERE EXISTS (SELECT 1 FROM n)
      ON CONFLICT (merchant_id, out_trade_no) DO NOTHING RETURNING *),
    `,
    foot: INTENT_FOOT,
  };
});
const INTENT_WITHOUT_NONCE = splicedTemplate<unknown[], IntentOut>(PAYMENT_COLUMNS.length, (...a) => ({
  head: sql`WITH
    v AS (SELECT version FROM config_version WHERE singleton),
    n AS (SELECT 1 AS ok),
    p AS (INSERT INTO payments (${PAYMENT_COLUMN_LIST}) SELECT ${typedValuesList(...a)} WHERE EXISTS (SELECT 1 FROM n)
      ON CONFLICT (merchant_id, out_trade_no) DO NOTHING RETURNING *),
    `,
  foot: INTENT_FOOT,
}));

/** The intent's statement under a risk guard, built per payment: its guard is the risk module's. */
function guardedIntent(row: PaymentRow, risk: IntentRisk, nonce: NonceClaim | null) {
  const n = nonce
    ? sql`INSERT INTO api_nonces (merchant_id, nonce, expires_at) SELECT * FROM (${nonceInsertValues(nonce)}) AS x WHERE (SELECT version FROM v) = ${nonce.read_under}::int8 AND (SELECT ok FROM g)
        ON CONFLICT (merchant_id, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE api_nonces.expires_at < ${staleBefore(nonce)}::timestamptz
        RETURNING 1 AS ok`
    : sql`SELECT 1 AS ok WHERE (SELECT ok FROM g)`;
  return sql<IntentOut>`WITH
    v AS (SELECT version FROM config_version WHERE singleton),
    g AS (SELECT ${risk.guard} AS ok),
    n AS (${n}),
    p AS (INSERT INTO payments (${PAYMENT_COLUMN_LIST}) SELECT ${typedValues(row)} WHERE EXISTS (SELECT 1 FROM n)
      ON CONFLICT (merchant_id, out_trade_no) DO NOTHING RETURNING *),
    ${namedWrites(intentRiskWrites(risk, "p"))}
    SELECT v.version AS config_version, EXISTS (SELECT 1 FROM n) AS nonce_ok, (SELECT ok FROM g) AS risk_ok, p.* FROM v LEFT JOIN p ON true`;
}

/** A nonce whose record expired may be claimed again: its row is older than one time-to-live. */
function staleBefore(nonce: NonceClaim): Date {
  return new Date(nonce.expires_at.getTime() - LIMITS.nonce_ttl_ms);
}

function runIntent(db: Kysely<Database>, row: PaymentRow, risk: IntentRisk, nonce: NonceClaim | null) {
  if (risk.guard !== null) return guardedIntent(row, risk, nonce).execute(db);
  const writes = namedWrites(intentRiskWrites(risk, "p"));
  const values = PAYMENT_COLUMNS.map((c) => row[c] as unknown);
  if (!nonce) return INTENT_WITHOUT_NONCE.execute(db, writes, ...values);
  return INTENT_WITH_NONCE.execute(db, writes, ...values, nonce.merchant_id, nonce.nonce, nonce.expires_at, nonce.read_under, staleBefore(nonce));
}

export async function insertIntent(db: Kysely<Database>, row: PaymentRow, risk: IntentRisk, nonce: NonceClaim | null): Promise<IntentResult> {
  const r = await runIntent(db, row, risk, nonce).catch((err: unknown) => {
    // The insert re-checks the agreement under its row lock (migration 0610): an unbind that
    // committed since the request's check refuses it here, so nothing is sent after an unbind.
    if (sqlState(err) === SQLSTATE.agreement_inactive) throw new PaycoreError("agreement_inactive", `agreement ${row.agreement_id} was unbound`);
    throw err;
  });
  const out = r.rows[0]!;
  if (!out.risk_ok) throw new RiskScopesMoved();
  const config_version = BigInt(out.config_version);
  if (!out.nonce_ok) return nonce && nonce.read_under === config_version ? { kind: "replayed" } : { kind: "stale", config_version };
  if (nonce) nonce.claimed = true;
  if (out.payment_id === null) return { kind: "conflict" };
  const { config_version: _v, nonce_ok: _n, risk_ok: _r, ...payment } = out;
  return { kind: "inserted", payment: payment as PaymentRow };
}

function nonceInsertValues(n: NonceClaim): RawBuilder<unknown> {
  return sql`VALUES (${n.merchant_id}::text, ${n.nonce}::text, ${n.expires_at}::timestamptz)`;
}
