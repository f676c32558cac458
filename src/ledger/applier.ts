import { sql, type Kysely } from "kysely";
import type { Ctx } from "../context.ts";
import type { Database } from "../db/index.ts";
import type { Fen } from "../kernel/money.ts";
import { accountCode, merchantAvailable } from "./accounts.ts";
import { ensureAccounts } from "./journal.ts";
import { LEDGER_LIMITS } from "./limits.ts";
import { InvariantError } from "../kernel/errors.ts";

/**
 * Folds unapplied amounts into the accounts' kept totals (docs/ledger.md "Balances: no hot rows").
 * Any process may call it; one applies at a time: a transaction-scoped advisory lock is the lease,
 * released by commit, rollback or a dead connection, so a killed applier leaves nothing stuck. The
 * delete and the update are one statement: every snapshot sees an amount exactly once.
 *
 * A batch is any rows up to the limit, in the order the table holds them, deleted by their row
 * addresses (a TID scan): the fold's sums do not depend on order, and the rows are never updated,
 * so an address read in the statement is the row deleted by it. Until the fifth round the batch
 * was the lowest `seq`s (a sort and a hash semi join over the table, several times the cost per
 * row; docs/performance.md). While more rows wait than a batch holds, drain() runs passes until a
 * batch comes back short.
 */
const APPLIER_LOCK_KEY = 7_291_070;

/** Lines applied, or null when another applier holds the lease. */
export async function applyLedgerBalances(db: Kysely<Database>, max_lines: number = LEDGER_LIMITS.apply_batch_lines_max): Promise<number | null> {
  return db.transaction().execute(async (trx) => {
    const lease = await sql<{ ok: boolean }>`SELECT pg_try_advisory_xact_lock(${APPLIER_LOCK_KEY}) AS ok`.execute(trx);
    if (!lease.rows[0]!.ok) return null;
    const applied = await sql<{ lines: bigint; accounts: bigint; named: bigint }>`
      WITH batch AS (
        DELETE FROM ledger_unapplied
         WHERE ctid = ANY (ARRAY(SELECT ctid FROM ledger_unapplied LIMIT ${max_lines}))
        RETURNING account_code, debits, credits),
      sums AS (SELECT account_code, sum(debits)::int8 AS debits, sum(credits)::int8 AS credits FROM batch GROUP BY account_code),
      kept AS (
        UPDATE ledger_accounts AS a SET debits = a.debits + s.debits, credits = a.credits + s.credits, updated_at = now()
          FROM sums s WHERE a.account_code = s.account_code RETURNING 1)
      SELECT (SELECT count(*) FROM batch)::int8 AS lines, (SELECT count(*) FROM kept)::int8 AS accounts, (SELECT count(*) FROM sums)::int8 AS named`.execute(trx);
    const { lines, accounts, named } = applied.rows[0]!;
    // An amount on an account that does not exist would be deleted here and added nowhere. No key
    // refuses such a row at insert since migration 2050 (its writers take its accounts from lines
    // whose accounts the journal's check proves), so the fold refuses it: thrown, the transaction
    // rolls back and every row stays where it was.
    if (accounts !== named) throw new InvariantError(`ledger_unapplied names ${named - accounts} account(s) that do not exist: nothing folded`);
    return Number(lines);
  });
}

export interface LedgerApplier {
  /** Applies until nothing is left (or another process holds the lease); lines applied. */
  drain(): Promise<number>;
  stop(): Promise<void>;
}

/** Runs the applier every `interval_ms` in the background of a server process. */
export function startLedgerApplier(ctx: Pick<Ctx, "db" | "log">, options: { interval_ms?: number } = {}): LedgerApplier {
  let running: Promise<number> | null = null;
  let stopped = false;
  const drain = async () => {
    while (running) await running;
    running = (async () => {
      let total = 0;
      for (let pass = 0; pass < LEDGER_LIMITS.apply_passes_max; pass++) {
        const lines = await applyLedgerBalances(ctx.db);
        if (!lines) break;
        total += lines;
        if (lines < LEDGER_LIMITS.apply_batch_lines_max) break;
      }
      return total;
    })().finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => {
    if (!running && !stopped) {
      drain().catch((err: Error) => {
        // A broken invariant repeats on every pass until someone looks (the rows stay, balances read
        // through the view stay exact); anything else (the database away) passes by itself.
        if (err instanceof InvariantError) ctx.log.error({ err: err.message }, "ledger applier refuses to fold: the unapplied amounts name an unknown account");
        else ctx.log.warn({ err: err.message }, "ledger applier pass failed");
      });
    }
  }, options.interval_ms ?? LEDGER_LIMITS.apply_interval_ms);
  timer.unref();
  return {
    drain,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      while (running) await running;
    },
  };
}

/**
 * The merchant ID's available balance, exact, with its row locked until the caller's transaction
 * ends: the race-safe first step of taking money out of it (a payout reserving its amount). Post
 * the debit in the same transaction; the CHECK on the account refuses a negative balance anyway.
 */
export async function lockMerchantAvailable(trx: Kysely<Database>, merchant_id: string): Promise<Fen> {
  const account = merchantAvailable(merchant_id);
  await ensureAccounts(trx, [account]);
  const row = await trx.selectFrom("ledger_accounts").select(["debits", "credits"]).where("account_code", "=", accountCode(account)).forNoKeyUpdate().executeTakeFirstOrThrow();
  return row.credits - row.debits;
}
