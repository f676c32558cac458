import { sql, type Kysely, type RawBuilder } from "kysely";
import type { Database } from "../db/index.ts";
import type { RuleScope } from "./rows.ts";

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

/**
 * Payments of one scope since each of several instants, in one statement: each instant is a
 * FILTER over the rows since the earliest one, read through the scope's index. Counts are of
 * attempts (every status: declines are what card testing looks like); amounts are of payments
 * that succeeded or may still succeed.
 */
export async function paymentUsage(db: Kysely<Database>, scope: RuleScope, keys: ScopeKeys, since: readonly Date[]): Promise<Usage[]> {
  const where = paymentScopeWhere(scope, keys);
  return usageQuery(db, sql`payments`, where, since, true);
}

/** Signing attempts of one scope since each of several instants (rows of `risk_signings`). */
export async function signingUsage(db: Kysely<Database>, scope: RuleScope, keys: ScopeKeys, since: readonly Date[]): Promise<Usage[]> {
  return usageQuery(db, sql`risk_signings`, signingScopeWhere(scope, keys), since, false);
}

function paymentScopeWhere(scope: RuleScope, keys: ScopeKeys): RawBuilder<unknown> {
  switch (scope) {
    case "card":
      return sql`card_id = ${keys.card_id}`;
    case "id_holder":
      return sql`card_id IN (SELECT card_id FROM cards WHERE id_fingerprint = ${keys.id_fingerprint})`;
    case "merchant":
      return sql`merchant_id = ${keys.merchant_id}`;
    case "phone":
      throw new Error("payments are not counted per phone");
  }
}

function signingScopeWhere(scope: RuleScope, keys: ScopeKeys): RawBuilder<unknown> {
  switch (scope) {
    case "card":
      return sql`card_id = ${keys.card_id}`;
    case "id_holder":
      return sql`id_fingerprint = ${keys.id_fingerprint}`;
    case "merchant":
      return sql`merchant_id = ${keys.merchant_id}`;
    case "phone":
      return sql`phone_fingerprint = ${keys.phone_fingerprint ?? ""}`;
  }
}

async function usageQuery(db: Kysely<Database>, table: RawBuilder<unknown>, where: RawBuilder<unknown>, since: readonly Date[], with_amount: boolean): Promise<Usage[]> {
  if (since.length === 0) return [];
  const earliest = new Date(Math.min(...since.map((d) => d.getTime())));
  const columns = since.map((at, i) =>
    with_amount
      ? sql`count(*) FILTER (WHERE created_at >= ${at}) AS ${sql.ref(`c${i}`)}, coalesce(sum(amount) FILTER (WHERE created_at >= ${at} AND status <> 'failed'), 0)::int8 AS ${sql.ref(`a${i}`)}`
      : sql`count(*) FILTER (WHERE created_at >= ${at}) AS ${sql.ref(`c${i}`)}`,
  );
  const result = await sql<Record<string, bigint | string | number>>`SELECT ${sql.join(columns)} FROM ${table} WHERE ${where} AND created_at >= ${earliest}`.execute(db);
  const row = result.rows[0] ?? {};
  return since.map((_, i) => ({ count: BigInt(row[`c${i}`] ?? 0), amount: BigInt(row[`a${i}`] ?? 0) }));
}

/**
 * Serializes the payments (or signings) of the scopes an enforced reject rule counts, and only
 * those: a transaction-level advisory lock per scope key, taken in one order so two payments
 * sharing two scopes cannot deadlock. Payments of other cards, people and merchant IDs do not wait.
 */
export async function lockScopes(trx: Kysely<Database>, keys: readonly string[]): Promise<void> {
  for (const key of [...new Set(keys)].sort()) {
    await sql`SELECT pg_advisory_xact_lock(${RISK_LOCK_CLASS}, hashtext(${key}))`.execute(trx);
  }
}

/** The first key of the two-key advisory locks risk takes (its migration number). */
const RISK_LOCK_CLASS = 1000;
