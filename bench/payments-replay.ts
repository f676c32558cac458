/**
 * The replay: a payment's statements as paycore sends them, run against two databases at once, to
 * measure a change's PostgreSQL CPU per payment more finely than the whole-stack bench can on a
 * shared machine (docs/performance.md, "Seventh round"). Nothing here asserts a speed.
 *
 * 1. A cluster of your own on this machine (the CPU is read from /proc), a database, and one run
 *    of the payments bench on it with every statement logged:
 *      initdb …; pg_ctl … -o "-c log_min_duration_statement=0" start; createdb cap
 *      BENCH_DATABASE_URL=postgres://…/cap BENCH_SECONDS=3 npm run -s bench -- payments
 *    then restart the cluster without the logging.
 * 2. `node --import tsx bench/payments-replay.ts capture SERVER_LOG OUT.json`: the last logged
 *    payment's three statements with their parameters (the read, the intent, the outcome), the
 *    agreements of every logged intent, and the applier's fold.
 * 3. Two copies of the database (`createdb -T cap a`, `createdb -T cap b`), the change made to one.
 * 4. `node --import tsx bench/payments-replay.ts pair CAPTURE.json URL_A URL_B [CLIENTS] [SECONDS]`:
 *    both databases replayed at the same time (CLIENTS connections each, 4 by default, for
 *    SECONDS, 15 by default), each payment on a random agreement with fresh ids and times, and
 *    the applier's fold every 200 ms on a connection of its own, as a server process runs it.
 *    Prints, for each side, the payments made and the CPU of its own backends (the clients and
 *    the applier) per payment. Repeat with the sides' order swapped: the difference between the
 *    two sides of one pair is the figure; two copies of the same database differed by 0.03–0.05 ms at
 *    load 8–9, and single pairs move by up to ±0.1 ms at load 10–15: take many pairs.
 *
 * `run CAPTURE.json URL CLIENTS SECONDS [START_AT_MS] [EDIT.mjs]` replays one side (what `pair`
 * starts twice). EDIT.mjs, when given, is a module whose default export takes the captured
 * statements and returns them changed: a statement's change measured without changing paycore
 * (`pair` passes REPLAY_EDIT_A and REPLAY_EDIT_B to its sides).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { newId } from "../src/kernel/ids.ts";

interface Statement {
  text: string;
  params: (string | null)[];
}
interface Capture {
  read: Statement;
  intent: Statement;
  outcome: Statement;
  applier: Statement;
  /** agreement_id, card_id, card_agreement_id and the risk scope keys of each logged intent. */
  agreements: [string, string, string, string][];
}

/** The parameters of a log's `DETAIL:  parameters: $1 = '…', $2 = NULL` line, in order. */
function logParams(detail: string): (string | null)[] {
  const body = detail.slice(detail.indexOf("parameters: ") + "parameters: ".length);
  const out: (string | null)[] = [];
  for (const m of body.matchAll(/\$(\d+) = (NULL|'((?:[^']|'')*)')(?:, |$)/gs)) {
    if (Number(m[1]) !== out.length + 1) throw new Error(`parameter $${m[1]} out of order`);
    out.push(m[2] === "NULL" ? null : m[3]!.replaceAll("''", "'"));
  }
  return out;
}

function capture(log_file: string): Capture {
  // A log entry starts on a line that does not begin with a tab (continuations do).
  const entries = readFileSync(log_file, "utf8").split(/\n(?!\t)/);
  const found: Partial<Record<"read" | "intent" | "outcome" | "applier", Statement>> = {};
  const payments = new Map<string, Partial<Record<"read" | "intent" | "outcome", Statement>>>();
  const agreements = new Map<string, [string, string, string, string]>();
  for (let i = 0; i + 1 < entries.length; i++) {
    const m = /LOG: {2}duration: [\d.]+ ms {2}execute [^:]+: ([\s\S]*)$/.exec(entries[i]!);
    if (!m || !entries[i + 1]!.includes("DETAIL:  parameters: ")) continue;
    const text = m[1]!.replace(/\n\t/g, "\n");
    const params = logParams(entries[i + 1]!);
    if (text.includes("INSERT INTO api_nonces") && text.includes("INTO payments")) {
      const [pay, otn, agr, crd, cag, keys] = [params[5]!, params[8]!, params[10]!, params[11]!, params[13]!, params[41]!];
      agreements.set(agr, [agr, crd, cag, keys]);
      payments.set(pay, { ...payments.get(otn), intent: { text, params } });
      payments.delete(otn);
    } else if (text.startsWith('select "c".*')) {
      payments.set(params[1]!, { read: { text, params } });
    } else if (text.startsWith('WITH upd AS (update "payments"')) {
      const p = payments.get(params[9]!);
      if (p?.read && p.intent) Object.assign(found, p, { outcome: { text, params } });
    } else if (text.includes("DELETE FROM ledger_unapplied") && !found.applier) {
      found.applier = { text, params };
    }
  }
  if (!found.read || !found.intent || !found.outcome || !found.applier) throw new Error(`${log_file}: no payment with its read, intent and outcome, or no applier's fold, logged`);
  return { read: found.read, intent: found.intent, outcome: found.outcome, applier: found.applier, agreements: [...agreements.values()] };
}

const TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00$/;
const parseTime = (t: string) => Date.parse(t.replace(" ", "T").replace("+00", "Z"));
const logTime = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "+00");

/** A captured statement's parameters for a new payment: its ids replaced, its times moved to `now`. */
function relaid(s: Statement, pairs: [string, string][], base_ms: number, now_ms: number): (string | null)[] {
  return s.params.map((p) => {
    if (p === null) return p;
    if (TIME.test(p)) return logTime(now_ms + parseTime(p) - base_ms);
    let q = p;
    for (const [from, to] of pairs) q = q.split(from).join(to);
    return q;
  });
}

function backendCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
}

async function run(c: Capture, url: string, clients: number, seconds: number, start_at: number, edit: string): Promise<Record<string, string | number>> {
  const old = { pay: c.intent.params[5]!, otn: c.intent.params[8]!, ntx: c.intent.params[15]!, agr: c.intent.params[10]!, jnl: c.outcome.params[10]!, evt: c.outcome.params[34]!, txn: c.outcome.params[4]! };
  const intent_base = parseTime(c.intent.params[32]!);
  const outcome_base = parseTime(c.outcome.params[5]!);
  let n = 0;
  const payment = async (db: pg.Client) => {
    const now = Date.now();
    const a = c.agreements[Math.floor(Math.random() * c.agreements.length)]!;
    const pay = newId("pay", now);
    const k = ++n;
    const pairs: [string, string][] = [[old.pay, pay], [old.otn, `replay-${process.pid}-${k}`], [old.ntx, newId("ntx", now)], [old.agr, a[0]]];
    await db.query({ name: "replay_read", text: c.read.text, values: relaid(c.read, pairs, intent_base, now) });
    const ip = relaid(c.intent, pairs, intent_base, now);
    [ip[1], ip[10], ip[11], ip[13], ip[41]] = [randomBytes(16).toString("hex"), a[0], a[1], a[2], a[3]];
    const i = await db.query({ name: "replay_intent", text: c.intent.text, values: ip });
    if (i.rows[0]?.payment_id !== pay) throw new Error("the intent wrote no payment");
    const then = Date.now();
    pairs.push([old.jnl, newId("jnl", then)], [old.evt, newId("evt", then)], [old.txn, `R${process.pid}${String(k).padStart(12, "0")}`]);
    const o = await db.query({ name: "replay_outcome", text: c.outcome.text, values: relaid(c.outcome, pairs, outcome_base, then) });
    if (o.rows[0]?.entries_written !== 1) throw new Error("the outcome wrote no entry");
  };
  const conns: (pg.Client & { pid?: number })[] = [];
  for (let i = 0; i <= clients; i++) {
    const db: pg.Client & { pid?: number } = new pg.Client({ connectionString: url });
    await db.connect();
    db.pid = (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    conns.push(db);
  }
  const applier = conns[clients]!;
  await new Promise((r) => setTimeout(r, Math.max(0, start_at - Date.now())));
  const cpu = () => conns.reduce((s, db) => s + backendCpuMs(db.pid!), 0);
  const cpu0 = cpu();
  const t0 = Date.now();
  let done = 0;
  let stop = false;
  let folded = 0;
  const fold = (async () => {
    while (!stop) {
      await new Promise((r) => setTimeout(r, 200));
      await applier.query("BEGIN");
      await applier.query("SELECT pg_try_advisory_xact_lock(7291070)");
      folded += Number((await applier.query({ name: "replay_fold", text: c.applier.text, values: [5000] })).rows[0].lines);
      await applier.query("COMMIT");
    }
  })();
  await Promise.all(
    conns.slice(0, clients).map(async (db) => {
      while (Date.now() - t0 < seconds * 1000) {
        await payment(db);
        done++;
      }
    }),
  );
  stop = true;
  await fold;
  const used = cpu() - cpu0;
  const elapsed = (Date.now() - t0) / 1000;
  for (const db of conns) await db.end();
  return { database: new URL(url).pathname.slice(1), edit, payments: done, "payments/s": (done / elapsed).toFixed(1), "backend CPU ms/payment": (used / done).toFixed(3), "unapplied rows folded": folded };
}

async function edited(c: Capture, edit: string | undefined): Promise<Capture> {
  if (!edit) return c;
  const mod = (await import(pathToFileURL(edit).href)) as { default: (c: Capture) => Capture };
  return mod.default(c);
}

function side(args: string[]): Promise<Record<string, string | number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "bench/payments-replay.ts", "run", ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as Record<string, string | number>) : reject(new Error(`replay of ${args[1]} exited ${code}`))));
  });
}

const [command, ...args] = process.argv.slice(2);
if (command === "capture" && args.length === 2) {
  const c = capture(args[0]!);
  writeFileSync(args[1]!, JSON.stringify(c, null, 1));
  console.log(`${args[1]}: one payment's read (${c.read.params.length} parameters), intent (${c.intent.params.length}), outcome (${c.outcome.params.length}); ${c.agreements.length} agreements`);
} else if (command === "run" && args.length >= 4) {
  const c = await edited(JSON.parse(readFileSync(args[0]!, "utf8")) as Capture, args[5]);
  console.log(JSON.stringify(await run(c, args[1]!, Number(args[2]), Number(args[3]), Number(args[4] ?? 0), args[5] ?? "")));
} else if (command === "pair" && args.length >= 3) {
  const [file, a, b, clients = "4", seconds = "15"] = args as [string, string, string, string?, string?];
  const load = () => readFileSync("/proc/loadavg", "utf8").split(" ")[0];
  const before = load();
  // Both sides start their timed load at the same instant, after connecting.
  const at = String(Date.now() + 3000);
  const edit = (e: string | undefined) => (e ? [e] : []);
  const rows = await Promise.all([side([file, a, clients, seconds, at, ...edit(process.env.REPLAY_EDIT_A)]), side([file, b, clients, seconds, at, ...edit(process.env.REPLAY_EDIT_B)])]);
  console.table(rows.map((r) => ({ ...r, load: `${before} → ${load()}` })));
} else {
  console.error("usage: payments-replay.ts capture SERVER_LOG OUT.json | pair CAPTURE.json URL_A URL_B [CLIENTS] [SECONDS] | run CAPTURE.json URL CLIENTS SECONDS [START_AT_MS] [EDIT.mjs]");
  process.exit(2);
}
