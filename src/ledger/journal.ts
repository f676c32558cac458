import { sql, type Kysely, type RawBuilder } from "kysely";
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

/** Rows the ledger writes together with an entry, in the same statement (pending_items). */
export interface EntryExtras {
  pending_item?: { merchant_id: string; item_kind: "payment" | "refund"; reference_id: string; payment_id: string; amount: Fen; fee: Fen };
}

/**
 * Writes a built entry in the caller's transaction, once per event key. A repeat with the same
 * lines returns the first entry; a repeat with other lines is a bug and throws.
 *
 * The write is one statement (docs/ledger.md "Balances: no hot rows"): it creates accounts seen
 * for the first time, inserts the entry (nothing else happens when its event key exists), its
 * lines, the unapplied amounts of deferred accounts and the kept totals of guarded ones.
 */
export async function postEntry(trx: Kysely<Database>, spec: EntrySpec, extras: EntryExtras = {}): Promise<PostedEntry> {
  const entry = buildEntry(spec);
  const entry_id = newId("jnl", entry.effective_at.getTime());
  const totals = accountTotals(entry.lines);
  const guarded = [...totals.values()].filter((t) => isGuarded(t.account)).map((t) => t.account);
  if (guarded.length > 0) await prepareGuarded(trx, guarded);
  const written = await writeEntry(trx, entry, entry_id, totals, extras).execute(trx);
  if (written.rows.length === 1) {
    publishPosting({ event_type: entry.event_type });
    return { entry_id, event_key: entry.event_key, replayed: false };
  }
  return replayedEntry(trx, entry);
}

/** The entry stored under a built entry's event key, which must have the same lines. */
async function replayedEntry(trx: Kysely<Database>, entry: BuiltEntry): Promise<PostedEntry> {
  const existing = await findEntryByEventKey(trx, entry.event_key);
  assert(existing !== undefined, `entry ${entry.event_key} was neither written nor found`);
  const stored = await trx.selectFrom("journal_lines").selectAll().where("entry_id", "=", existing.entry_id).orderBy("line_no").execute();
  if (!sameLines(entry.lines, stored)) throw new InvariantError(`event ${entry.event_key} was already posted with other lines`);
  return { entry_id: existing.entry_id, event_key: entry.event_key, replayed: true };
}

export interface EntryToPost {
  spec: EntrySpec;
  extras?: EntryExtras;
}

/**
 * Several entries in the caller's transaction with one statement (an importer, a batch of
 * outcomes): the same rows postEntry writes, each entry once per event key, in the order given.
 * Entries already posted return their first entry (replayed) and must have the same lines.
 * Only deferred accounts: an entry on a guarded account needs postEntry's row lock. Statement cost:
 * one, plus one read per replayed entry; rows locked: none (inserts only).
 */
export async function postEntries(trx: Kysely<Database>, items: readonly EntryToPost[]): Promise<PostedEntry[]> {
  assert(items.length >= 1 && items.length <= LEDGER_LIMITS.entries_per_batch_max, `a batch holds 1 to ${LEDGER_LIMITS.entries_per_batch_max} entries: ${items.length}`);
  const batch = items.map((item) => {
    const entry = buildEntry(item.spec);
    const totals = accountTotals(entry.lines);
    for (const t of totals.values()) assert(!isGuarded(t.account), `entry ${entry.event_key} moves guarded account ${accountCode(t.account)}: use postEntry`);
    return { entry, entry_id: newId("jnl", entry.effective_at.getTime()), totals, extras: item.extras ?? {} };
  });
  assert(new Set(batch.map((b) => b.entry.event_key)).size === batch.length, "a batch names each event key once");
  const line_count = batch.reduce((n, b) => n + b.entry.lines.length, 0);
  assert(line_count <= LEDGER_LIMITS.lines_per_batch_max, `a batch holds at most ${LEDGER_LIMITS.lines_per_batch_max} lines: ${line_count}`);
  const written = await writeEntries(batch).execute(trx);
  const fresh = new Set(written.rows.map((r) => r.event_key));
  const posted: PostedEntry[] = [];
  for (const b of batch) {
    if (fresh.has(b.entry.event_key)) {
      publishPosting({ event_type: b.entry.event_type });
      posted.push({ entry_id: b.entry_id, event_key: b.entry.event_key, replayed: false });
    } else {
      posted.push(await replayedEntry(trx, b.entry));
    }
  }
  return posted;
}

interface BatchedEntry {
  entry: BuiltEntry;
  entry_id: string;
  totals: Map<string, AccountTotal>;
  extras: EntryExtras;
}

/** One array per column: a batch is bound as about 30 parameters, whatever its size. */
interface BatchColumns {
  account: { code: string[]; kind: string[]; type: string[]; owner: (string | null)[] };
  entry: {
    entry_id: string[];
    event_key: string[];
    event_type: string[];
    reference_id: string[];
    merchant_id: (string | null)[];
    channel_id: (string | null)[];
    effective_at: string[];
    business_date: string[];
    line_count: number[];
    amount: string[];
  };
  line: { entry_id: string[]; line_no: number[]; code: string[]; side: string[]; amount: string[]; kind: string[] };
  moved: { entry_id: string[]; code: string[]; debits: string[]; credits: string[] };
  item: { entry_id: string[]; merchant_id: string[]; kind: string[]; reference_id: string[]; payment_id: string[]; amount: string[]; fee: string[] };
}

function batchColumns(batch: readonly BatchedEntry[]): BatchColumns {
  const c: BatchColumns = {
    account: { code: [], kind: [], type: [], owner: [] },
    entry: { entry_id: [], event_key: [], event_type: [], reference_id: [], merchant_id: [], channel_id: [], effective_at: [], business_date: [], line_count: [], amount: [] },
    line: { entry_id: [], line_no: [], code: [], side: [], amount: [], kind: [] },
    moved: { entry_id: [], code: [], debits: [], credits: [] },
    item: { entry_id: [], merchant_id: [], kind: [], reference_id: [], payment_id: [], amount: [], fee: [] },
  };
  const accounts = new Map<string, AccountRef>();
  for (const { entry: e, entry_id, totals, extras } of batch) {
    c.entry.entry_id.push(entry_id);
    c.entry.event_key.push(e.event_key);
    c.entry.event_type.push(e.event_type);
    c.entry.reference_id.push(e.reference_id);
    c.entry.merchant_id.push(e.merchant_id);
    c.entry.channel_id.push(e.channel_id);
    c.entry.effective_at.push(e.effective_at.toISOString());
    c.entry.business_date.push(e.business_date);
    c.entry.line_count.push(e.lines.length);
    c.entry.amount.push(String(e.amount));
    for (const l of e.lines) {
      c.line.entry_id.push(entry_id);
      c.line.line_no.push(l.line_no);
      c.line.code.push(l.account_code);
      c.line.side.push(l.side);
      c.line.amount.push(String(l.amount));
      c.line.kind.push(l.line_kind);
    }
    for (const [code, t] of totals) {
      accounts.set(code, t.account);
      c.moved.entry_id.push(entry_id);
      c.moved.code.push(code);
      c.moved.debits.push(String(t.debits));
      c.moved.credits.push(String(t.credits));
    }
    const i = extras.pending_item;
    if (i) {
      c.item.entry_id.push(entry_id);
      c.item.merchant_id.push(i.merchant_id);
      c.item.kind.push(i.item_kind);
      c.item.reference_id.push(i.reference_id);
      c.item.payment_id.push(i.payment_id);
      c.item.amount.push(String(i.amount));
      c.item.fee.push(String(i.fee));
    }
  }
  for (const [code, a] of accounts) {
    c.account.code.push(code);
    c.account.kind.push(a.kind);
    c.account.type.push(ACCOUNT_KINDS[a.kind].type);
    c.account.owner.push(a.owner_id);
  }
  return c;
}

/**
 * postEntry's rows for many entries, in one statement whose size does not grow with the batch:
 * each column is one array parameter, unnested (a VALUES list of several thousand bind
 * parameters costs more to build, send, parse and plan than the rows cost to insert). Lines,
 * amounts and items join the entries written by entry_id, so a replayed entry writes nothing.
 * The amounts each account is moved by are summed over the batch: one unapplied row per account
 * per statement, not per entry (its entry_id is the statement's first entry written).
 */
function writeEntries(batch: readonly BatchedEntry[]) {
  const { account: a, entry: e, line: l, moved: m, item: i } = batchColumns(batch);
  const parts = [
    sql`new_accounts AS (
      INSERT INTO ledger_accounts (account_code, kind, account_type, owner_id, debits, credits, created_at, updated_at)
      SELECT v.code, v.kind, v.type, v.owner, 0, 0, now(), now()
        FROM unnest(${a.code}::text[], ${a.kind}::text[], ${a.type}::text[], ${a.owner}::text[]) AS v(code, kind, type, owner)
       WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts x WHERE x.account_code = v.code)
      ON CONFLICT (account_code) DO NOTHING)`,
    sql`e AS (
      INSERT INTO journal_entries (entry_id, event_key, event_type, reference_id, merchant_id, channel_id, effective_at, business_date, posted_at, line_count, amount)
      SELECT v.entry_id, v.event_key, v.event_type, v.reference_id, v.merchant_id, v.channel_id, v.effective_at, v.business_date, now(), v.line_count, v.amount
        FROM unnest(${e.entry_id}::text[], ${e.event_key}::text[], ${e.event_type}::text[], ${e.reference_id}::text[], ${e.merchant_id}::text[],
                    ${e.channel_id}::text[], ${e.effective_at}::timestamptz[], ${e.business_date}::text[], ${e.line_count}::int4[], ${e.amount}::int8[])
          AS v(entry_id, event_key, event_type, reference_id, merchant_id, channel_id, effective_at, business_date, line_count, amount)
      ON CONFLICT (event_key) DO NOTHING
      RETURNING entry_id, event_key, business_date)`,
    sql`l AS (
      INSERT INTO journal_lines (entry_id, line_no, account_code, side, amount, line_kind, business_date)
      SELECT e.entry_id, v.line_no, v.code, v.side, v.amount, v.kind, e.business_date
        FROM unnest(${l.entry_id}::text[], ${l.line_no}::int4[], ${l.code}::text[], ${l.side}::text[], ${l.amount}::int8[], ${l.kind}::text[])
          AS v(entry_id, line_no, code, side, amount, kind)
        JOIN e ON e.entry_id = v.entry_id)`,
    sql`u AS (
      INSERT INTO ledger_unapplied (account_code, debits, credits, entry_id)
      SELECT v.code, sum(v.debits)::int8, sum(v.credits)::int8, min(e.entry_id)
        FROM unnest(${m.entry_id}::text[], ${m.code}::text[], ${m.debits}::int8[], ${m.credits}::int8[]) AS v(entry_id, code, debits, credits)
        JOIN e ON e.entry_id = v.entry_id
       GROUP BY v.code)`,
  ];
  if (i.entry_id.length > 0) {
    parts.push(sql`p AS (
      INSERT INTO pending_items (entry_id, merchant_id, item_kind, reference_id, payment_id, amount, fee, business_date, settlement_id)
      SELECT e.entry_id, v.merchant_id, v.kind, v.reference_id, v.payment_id, v.amount, v.fee, e.business_date, NULL
        FROM unnest(${i.entry_id}::text[], ${i.merchant_id}::text[], ${i.kind}::text[], ${i.reference_id}::text[], ${i.payment_id}::text[], ${i.amount}::int8[], ${i.fee}::int8[])
          AS v(entry_id, merchant_id, kind, reference_id, payment_id, amount, fee)
        JOIN e ON e.entry_id = v.entry_id)`);
  }
  return sql<{ entry_id: string; event_key: string }>`WITH ${sql.join(parts)} SELECT entry_id, event_key FROM e`;
}

/** Accounts whose balance has a floor: updated in the posting's transaction (see the migration 0700). */
export function isGuarded(account: AccountRef): boolean {
  return account.kind === "merchant_available";
}

/**
 * Guarded accounts exist before the posting's statement (its UPDATE cannot see a row created in
 * the same statement) and, when there are several, are locked in code order, so two postings
 * never lock them in opposite orders.
 */
async function prepareGuarded(trx: Kysely<Database>, accounts: readonly AccountRef[]): Promise<void> {
  await ensureAccounts(trx, accounts);
  if (accounts.length < 2) return;
  const codes = accounts.map(accountCode).sort();
  await trx.selectFrom("ledger_accounts").select("account_code").where("account_code", "in", codes).orderBy("account_code").forNoKeyUpdate().execute();
}

export async function ensureAccounts(trx: Kysely<Database>, accounts: readonly AccountRef[]): Promise<void> {
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

/**
 * The arguments of the CTEs entryWithinCtes writes, by name, in their order: the entry's own
 * values, its lines and the amounts each account is moved by as one array per column (so the
 * statement's text does not change with the number of lines), then the pending item's values
 * when there is one, then the accounts to create when they are not known to exist.
 */
const ENTRY_ARGS = [
  "entry_id", "event_key", "event_type", "reference_id", "merchant_id", "channel_id", "effective_at", "business_date", "line_count", "amount",
  "line_no", "line_code", "line_side", "line_amount", "line_kind",
  "moved_code", "moved_debits", "moved_credits",
] as const;
const ITEM_ARGS = ["item_merchant_id", "item_kind", "item_reference_id", "item_payment_id", "item_amount", "item_fee"] as const;
const ACCOUNT_ARGS = ["account_code", "account_kind", "account_type", "account_owner"] as const;

/** What varies the text of entryWithinCtes: a pending item or not, the accounts' insert or not. */
export interface EntryShape {
  with_item: boolean;
  with_accounts: boolean;
}

type EntryArgName = (typeof ENTRY_ARGS)[number] | (typeof ITEM_ARGS)[number] | (typeof ACCOUNT_ARGS)[number];

function entryArgNames(shape: EntryShape): readonly EntryArgName[] {
  return [...ENTRY_ARGS, ...(shape.with_item ? ITEM_ARGS : []), ...(shape.with_accounts ? ACCOUNT_ARGS : [])];
}

/** How many arguments entryWithinCtes takes for a shape. */
export function entryArity(shape: EntryShape): number {
  return entryArgNames(shape).length;
}

/**
 * postEntry's writes as common table expressions of a caller's statement (named new_accounts, e,
 * l, u and p: the caller's names must differ), the entry written only if `only_if` holds when the
 * statement runs. The text depends on the shape alone; every argument is a parameter, so a
 * caller can build and compile it once per shape (src/db/template.ts) and lay out `args` from
 * entryWithin on every payment.
 */
export function entryWithinCtes(shape: EntryShape, only_if: RawBuilder<unknown>, args: readonly unknown[]): RawBuilder<unknown> {
  const names = entryArgNames(shape);
  assert(args.length === names.length, `entryWithinCtes takes ${names.length} arguments: ${args.length}`);
  const a = Object.fromEntries(names.map((n, i) => [n, args[i]])) as Record<EntryArgName, unknown>;
  const parts: RawBuilder<unknown>[] = [];
  if (shape.with_accounts) {
    // Only accounts not seen yet go to the unique index: an existing hot account is never waited on.
    parts.push(sql`new_accounts AS (
      INSERT INTO ledger_accounts (account_code, kind, account_type, owner_id, debits, credits, created_at, updated_at)
      SELECT v.code, v.kind, v.type, v.owner, 0, 0, now(), now()
        FROM unnest(${a.account_code}::text[], ${a.account_kind}::text[], ${a.account_type}::text[], ${a.account_owner}::text[]) AS v(code, kind, type, owner)
       WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts x WHERE x.account_code = v.code)
      ON CONFLICT (account_code) DO NOTHING)`);
  }
  parts.push(
    sql`e AS (
      INSERT INTO journal_entries (entry_id, event_key, event_type, reference_id, merchant_id, channel_id, effective_at, business_date, posted_at, line_count, amount)
      SELECT ${a.entry_id}::text, ${a.event_key}::text, ${a.event_type}::text, ${a.reference_id}::text, ${a.merchant_id}::text, ${a.channel_id}::text,
             ${a.effective_at}::timestamptz, ${a.business_date}::text, now(), ${a.line_count}::int4, ${a.amount}::int8
       WHERE ${only_if}
      ON CONFLICT (event_key) DO NOTHING RETURNING entry_id, business_date)`,
    sql`l AS (
      INSERT INTO journal_lines (entry_id, line_no, account_code, side, amount, line_kind, business_date)
      SELECT e.entry_id, v.line_no, v.code, v.side, v.amount, v.kind, e.business_date
        FROM e, unnest(${a.line_no}::int4[], ${a.line_code}::text[], ${a.line_side}::text[], ${a.line_amount}::int8[], ${a.line_kind}::text[]) AS v(line_no, code, side, amount, kind))`,
    sql`u AS (
      INSERT INTO ledger_unapplied (account_code, debits, credits, entry_id)
      SELECT v.code, v.debits, v.credits, e.entry_id FROM e, unnest(${a.moved_code}::text[], ${a.moved_debits}::int8[], ${a.moved_credits}::int8[]) AS v(code, debits, credits))`,
  );
  if (shape.with_item) {
    parts.push(sql`p AS (
      INSERT INTO pending_items (entry_id, merchant_id, item_kind, reference_id, payment_id, amount, fee, business_date, settlement_id)
      SELECT e.entry_id, ${a.item_merchant_id}::text, ${a.item_kind}::text, ${a.item_reference_id}::text, ${a.item_payment_id}::text, ${a.item_amount}::int8, ${a.item_fee}::int8,
             e.business_date, NULL FROM e)`);
  }
  return sql.join(parts);
}

/**
 * Account codes known to exist, per database handle (transactions share their handle's): an
 * entry on those alone leaves out the insert of missing accounts, a ModifyTable node with an
 * anti join over ledger_accounts that finds nothing to insert on all but an account's first
 * entry. A code is added only once a statement outside a transaction (so committed) wrote an
 * entry with a line on it: an account cannot go away (ledger_accounts refuses DELETE, TRUNCATE and
 * a changed account_code: migration 2050).
 */
const known_accounts = new WeakMap<object, Set<string>>();
const KNOWN_ACCOUNTS_MAX = 10_000;

function knownAccountsOf(db: Kysely<Database>): Set<string> {
  const key = db.getExecutor().adapter;
  let known = known_accounts.get(key);
  if (!known) {
    known = new Set();
    known_accounts.set(key, known);
  }
  return known;
}

/** What entryWithin adds to a caller's statement, and what the caller checks once it ran. */
export interface EntryWithin {
  shape: EntryShape;
  /** entryWithinCtes's arguments for this entry. */
  args: unknown[];
  entry_id: string;
  event_key: string;
  /** Call with the rows of `e` the statement wrote (the caller selects `(SELECT count(*) FROM e)`). */
  written(rows: number): void;
}

/**
 * postEntry's writes as parts of a caller's own statement on `db`, so a state change and its entry
 * commit in one statement (entryWithinCtes). Deferred accounts only (a guarded account needs
 * postEntry's row lock). The entry's event key must not exist yet: `written(0)` when `only_if`
 * held is an invariant broken.
 */
export function entryWithin(db: Kysely<Database>, spec: EntrySpec, extras: EntryExtras): EntryWithin {
  const entry = buildEntry(spec);
  const entry_id = newId("jnl", entry.effective_at.getTime());
  const totals = accountTotals(entry.lines);
  for (const t of totals.values()) assert(!isGuarded(t.account), `entry ${entry.event_key} moves guarded account ${accountCode(t.account)}: use postEntry`);
  const known = knownAccountsOf(db);
  const codes = [...totals.keys()];
  const item = extras.pending_item;
  const shape: EntryShape = { with_item: item !== undefined, with_accounts: !codes.every((c) => known.has(c)) };
  const moved = [...totals.values()];
  const args: unknown[] = [
    entry_id, entry.event_key, entry.event_type, entry.reference_id, entry.merchant_id, entry.channel_id, entry.effective_at, entry.business_date, entry.lines.length, String(entry.amount),
    entry.lines.map((l) => l.line_no), entry.lines.map((l) => l.account_code), entry.lines.map((l) => l.side), entry.lines.map((l) => String(l.amount)), entry.lines.map((l) => l.line_kind),
    codes, moved.map((t) => String(t.debits)), moved.map((t) => String(t.credits)),
  ];
  if (item) args.push(item.merchant_id, item.item_kind, item.reference_id, item.payment_id, String(item.amount), String(item.fee));
  if (shape.with_accounts) args.push(codes, moved.map((t) => t.account.kind), moved.map((t) => ACCOUNT_KINDS[t.account.kind].type), moved.map((t) => t.account.owner_id));
  return {
    shape,
    args,
    entry_id,
    event_key: entry.event_key,
    written: (rows) => {
      assert(rows <= 1, `entry ${entry.event_key} written ${rows} times`);
      if (rows === 1) publishPosting({ event_type: entry.event_type });
      // The statement ran outside a transaction, so it committed its lines: their accounts stay.
      if (rows === 1 && shape.with_accounts && !db.isTransaction) {
        if (known.size + codes.length > KNOWN_ACCOUNTS_MAX) known.clear();
        for (const c of codes) known.add(c);
      }
    },
  };
}

function writeEntry(trx: Kysely<Database>, entry: BuiltEntry, entry_id: string, totals: Map<string, AccountTotal>, extras: EntryExtras) {
  return sql<{ entry_id: string }>`WITH ${sql.join(entryParts(entry, entry_id, totals, extras))} SELECT entry_id FROM e`;
}

function entryParts(entry: BuiltEntry, entry_id: string, totals: Map<string, AccountTotal>, extras: EntryExtras) {
  const all = [...totals.values()];
  const accounts = sql.join(all.filter((t) => !isGuarded(t.account)).map((t) => sql`(${accountCode(t.account)}::text, ${t.account.kind}::text, ${ACCOUNT_KINDS[t.account.kind].type}::text, ${t.account.owner_id}::text)`));
  const lines = sql.join(entry.lines.map((l) => sql`(${l.line_no}::int4, ${l.account_code}::text, ${l.side}::text, ${l.amount}::int8, ${l.line_kind}::text)`));
  const amounts = (guarded: boolean) => {
    const rows = all.filter((t) => isGuarded(t.account) === guarded);
    return rows.length === 0 ? null : sql.join(rows.map((t) => sql`(${accountCode(t.account)}::text, ${t.debits}::int8, ${t.credits}::int8)`));
  };
  const deferred = amounts(false);
  const direct = amounts(true);
  const item = extras.pending_item;
  const parts = [
    // Only accounts not seen yet go to the unique index: an existing hot account is never waited on.
    sql`new_accounts AS (
      INSERT INTO ledger_accounts (account_code, kind, account_type, owner_id, debits, credits, created_at, updated_at)
      SELECT v.code, v.kind, v.type, v.owner, 0, 0, now(), now() FROM (VALUES ${accounts}) AS v(code, kind, type, owner)
       WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.account_code = v.code)
      ON CONFLICT (account_code) DO NOTHING)`,
    sql`e AS (
      INSERT INTO journal_entries (entry_id, event_key, event_type, reference_id, merchant_id, channel_id, effective_at, business_date, posted_at, line_count, amount)
      VALUES (${entry_id}, ${entry.event_key}, ${entry.event_type}, ${entry.reference_id}, ${entry.merchant_id}, ${entry.channel_id}, ${entry.effective_at}, ${entry.business_date}, now(), ${entry.lines.length}, ${entry.amount})
      ON CONFLICT (event_key) DO NOTHING RETURNING entry_id)`,
    sql`l AS (
      INSERT INTO journal_lines (entry_id, line_no, account_code, side, amount, line_kind, business_date)
      SELECT e.entry_id, v.line_no, v.code, v.side, v.amount, v.kind, ${entry.business_date} FROM e, (VALUES ${lines}) AS v(line_no, code, side, amount, kind))`,
  ];
  if (deferred) {
    parts.push(sql`u AS (
      INSERT INTO ledger_unapplied (account_code, debits, credits, entry_id)
      SELECT v.code, v.debits, v.credits, e.entry_id FROM e, (VALUES ${deferred}) AS v(code, debits, credits))`);
  }
  if (direct) {
    parts.push(sql`g AS (
      UPDATE ledger_accounts AS a SET debits = a.debits + v.debits, credits = a.credits + v.credits, updated_at = now()
        FROM e, (VALUES ${direct}) AS v(code, debits, credits) WHERE a.account_code = v.code)`);
  }
  if (item) {
    parts.push(sql`p AS (
      INSERT INTO pending_items (entry_id, merchant_id, item_kind, reference_id, payment_id, amount, fee, business_date, settlement_id)
      SELECT e.entry_id, ${item.merchant_id}, ${item.item_kind}, ${item.reference_id}, ${item.payment_id}, ${item.amount}::int8, ${item.fee}::int8, ${entry.business_date}, NULL FROM e)`);
  }
  return parts;
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
