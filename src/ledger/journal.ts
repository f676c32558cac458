import { sql, type Kysely } from "kysely";
import type { Database, JournalEventType, JournalLineRow } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { InvariantError } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import type { Fen } from "../kernel/money.ts";
import { ACCOUNT_KINDS, accountCode, type AccountRef, type Side } from "./accounts.ts";
import { isIsoDate } from "./business-day.ts";
import { LEDGER_LIMITS } from "./limits.ts";
import { publishPosting } from "../kernel/observe.ts";

export interface LineSpec {
  account: AccountRef;
  side: Side;
  amount: Fen;
  /** What the line is to the account holder: 'payment', 'fee', 'refund', 'settlement', … */
  line_kind: string;
}

export interface EntrySpec {
  /** One business event, one entry: posting the same key again returns the first entry. */
  event_key: string;
  event_type: JournalEventType;
  reference_id: string;
  merchant_id: string | null;
  channel_id: string | null;
  effective_at: Date;
  business_date: string;
  lines: LineSpec[];
}

export interface BuiltLine {
  line_no: number;
  account: AccountRef;
  account_code: string;
  side: Side;
  amount: Fen;
  line_kind: string;
}

export interface BuiltEntry extends Omit<EntrySpec, "lines"> {
  lines: BuiltLine[];
  amount: Fen;
}

export interface PostedEntry {
  entry_id: string;
  event_key: string;
  /** True when the event had been posted before and nothing was written now. */
  replayed: boolean;
}

const EVENT_KEY = /^[a-z_]+:[A-Za-z0-9_:.-]{1,160}$/;
const LINE_KIND = /^[a-z_]{1,32}$/;

/**
 * The one function that makes a journal entry. Lines of zero are left out (a payment with no fee
 * has no fee line); what remains must be two or more positive lines whose debits equal credits.
 */
export function buildEntry(spec: EntrySpec): BuiltEntry {
  assert(EVENT_KEY.test(spec.event_key), `bad event key ${spec.event_key}`);
  assert(isIsoDate(spec.business_date), `bad business date ${spec.business_date}`);
  assert(!Number.isNaN(spec.effective_at.getTime()), "effective_at is not a valid time");
  for (const line of spec.lines) {
    assert(typeof line.amount === "bigint", "line amounts are bigint fen");
    assert(line.amount >= 0n, `negative line amount ${line.amount} (${line.line_kind})`);
    assert(LINE_KIND.test(line.line_kind), `bad line kind ${line.line_kind}`);
    assert(ACCOUNT_KINDS[line.account.kind] !== undefined, `unknown account kind ${line.account.kind}`);
  }
  const kept = spec.lines.filter((l) => l.amount > 0n);
  assert(kept.length >= 2, `entry ${spec.event_key} needs at least two non-zero lines`);
  assert(kept.length <= LEDGER_LIMITS.lines_per_entry_max, `entry ${spec.event_key} has too many lines`);
  const debits = kept.filter((l) => l.side === "debit").reduce((s, l) => s + l.amount, 0n);
  const credits = kept.filter((l) => l.side === "credit").reduce((s, l) => s + l.amount, 0n);
  assert(debits === credits, `entry ${spec.event_key} is unbalanced: debits ${debits}, credits ${credits}`);
  const lines = kept.map((l, i) => ({ line_no: i + 1, account: l.account, account_code: accountCode(l.account), side: l.side, amount: l.amount, line_kind: l.line_kind }));
  return { ...spec, lines, amount: debits };
}

function sameLines(built: readonly BuiltLine[], stored: readonly JournalLineRow[]): boolean {
  if (built.length !== stored.length) return false;
  return built.every((b, i) => {
    const s = stored[i]!;
    return s.account_code === b.account_code && s.side === b.side && s.amount === b.amount && s.line_kind === b.line_kind;
  });
}

export async function findEntryByEventKey(trx: Kysely<Database>, event_key: string) {
  return trx.selectFrom("journal_entries").selectAll().where("event_key", "=", event_key).executeTakeFirst();
}

/**
 * Writes a built entry in the caller's transaction, once per event key. A repeat with the same
 * lines returns the first entry; a repeat with other lines is a bug and throws.
 */
export async function postEntry(trx: Kysely<Database>, spec: EntrySpec): Promise<PostedEntry> {
  const entry = buildEntry(spec);
  const existing = await findEntryByEventKey(trx, entry.event_key);
  if (existing) {
    const stored = await trx.selectFrom("journal_lines").selectAll().where("entry_id", "=", existing.entry_id).orderBy("line_no").execute();
    if (!sameLines(entry.lines, stored)) throw new InvariantError(`event ${entry.event_key} was already posted with other lines`);
    return { entry_id: existing.entry_id, event_key: entry.event_key, replayed: true };
  }
  const posted = await writeEntry(trx, entry);
  publishPosting({ event_type: entry.event_type });
  return posted;
}

async function writeEntry(trx: Kysely<Database>, entry: BuiltEntry): Promise<PostedEntry> {
  const entry_id = newId("jnl", entry.effective_at.getTime());
  const totals = accountTotals(entry.lines);
  await ensureAccounts(trx, [...totals.values()].map((t) => t.account));
  await trx
    .insertInto("journal_entries")
    .values({
      entry_id,
      event_key: entry.event_key,
      event_type: entry.event_type,
      reference_id: entry.reference_id,
      merchant_id: entry.merchant_id,
      channel_id: entry.channel_id,
      effective_at: entry.effective_at,
      business_date: entry.business_date,
      posted_at: sql<Date>`now()`,
      line_count: entry.lines.length,
      amount: entry.amount,
    })
    .execute();
  await trx
    .insertInto("journal_lines")
    .values(entry.lines.map((l) => ({ entry_id, line_no: l.line_no, account_code: l.account_code, side: l.side, amount: l.amount, line_kind: l.line_kind, business_date: entry.business_date })))
    .execute();
  await applyTotals(trx, totals);
  return { entry_id, event_key: entry.event_key, replayed: false };
}

/**
 * Adds the entry to the kept balances. The rows are locked in account-code order first, so two
 * transactions never lock the same accounts in opposite orders (no deadlock), then one statement
 * updates them all. NO KEY UPDATE, the lock an UPDATE takes: it does not conflict with the KEY
 * SHARE locks other transactions' journal lines hold on the accounts they reference.
 */
async function applyTotals(trx: Kysely<Database>, totals: Map<string, AccountTotal>): Promise<void> {
  const codes = [...totals.keys()].sort();
  const locked = await trx.selectFrom("ledger_accounts").select("account_code").where("account_code", "in", codes).orderBy("account_code").forNoKeyUpdate().execute();
  assert(locked.length === codes.length, "every account of the entry exists");
  const values = sql.join(codes.map((code) => sql`(${code}::text, ${totals.get(code)!.debits}::int8, ${totals.get(code)!.credits}::int8)`));
  await sql`UPDATE ledger_accounts AS a
               SET debits = a.debits + v.debits, credits = a.credits + v.credits, updated_at = now()
              FROM (VALUES ${values}) AS v(account_code, debits, credits)
             WHERE a.account_code = v.account_code`.execute(trx);
}

interface AccountTotal {
  account: AccountRef;
  debits: Fen;
  credits: Fen;
}

function accountTotals(lines: readonly BuiltLine[]): Map<string, AccountTotal> {
  const totals = new Map<string, AccountTotal>();
  for (const l of lines) {
    const t = totals.get(l.account_code) ?? { account: l.account, debits: 0n, credits: 0n };
    if (l.side === "debit") t.debits += l.amount;
    else t.credits += l.amount;
    totals.set(l.account_code, t);
  }
  return totals;
}

async function ensureAccounts(trx: Kysely<Database>, accounts: readonly AccountRef[]): Promise<void> {
  const rows = accounts.map((a) => ({
    account_code: accountCode(a),
    kind: a.kind,
    account_type: ACCOUNT_KINDS[a.kind].type,
    owner_id: a.owner_id,
    debits: 0n,
    credits: 0n,
    created_at: sql<Date>`now()`,
    updated_at: sql<Date>`now()`,
  }));
  await trx.insertInto("ledger_accounts").values(rows).onConflict((oc) => oc.column("account_code").doNothing()).execute();
}
