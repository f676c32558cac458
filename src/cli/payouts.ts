import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Config } from "../config.ts";
import { migrate } from "../db/index.ts";
import { createPayoutBatch, createPayoutDeps, DEFAULT_RESERVE_ACCOUNT, HttpRailGateway, PAYOUT_LIMITS, PayoutWire } from "../payouts/index.ts";
import { openContext } from "./main.ts";
import { runningServer, type ServerLink } from "./server-link.ts";

export const PAYOUTS_USAGE = "usage: paycore payouts import FILE.csv --merchant MERCHANT_ID [--batch OUT_BATCH_NO]";

/** The CSV's columns (a header line names them, in any order; `urgency` may be left out). */
const COLUMNS = ["out_payout_no", "amount", "account_name", "account_number", "bank_code", "purpose", "urgency"] as const;
const REQUIRED = COLUMNS.filter((c) => c !== "urgency");

type Batch = ReturnType<typeof PayoutWire.batchToWire>;

/** RFC 4180 fields: commas and newlines inside double quotes, "" for a quote. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  const src = text.replace(/^\uFEFF/, "");
  for (let i = 0; i < src.length; i++) {
    const ch = src[i]!;
    if (quoted) {
      if (ch === '"' && src[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && src[i + 1] === "\n") i++;
      row.push(field);
      if (row.some((f) => f !== "")) rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  row.push(field);
  if (row.some((f) => f !== "")) rows.push(row);
  return rows;
}

/**
 * Yuan as written in a file ("52000", "52,000.50") to integer fen, by text (no floating point).
 * Anything else is passed on as written, so the batch rejects that line naming its `amount`.
 */
export function yuanTextToFen(text: string): number | string {
  const t = text.trim().replace(/,/g, "");
  const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(t);
  if (!m) return text;
  return Number(BigInt(m[1]!) * 100n + BigInt((m[2] ?? "").padEnd(2, "0")));
}

/** The file's lines as batch lines; a header problem stops the import before anything moves. */
export function csvToLines(text: string): { lines: Record<string, unknown>[] } | { error: string } {
  const rows = parseCsv(text);
  const header = rows[0]?.map((h) => h.trim().toLowerCase());
  if (!header) return { error: "the file is empty" };
  const missing = REQUIRED.filter((c) => !header.includes(c));
  if (missing.length) return { error: `the header line lacks ${missing.join(", ")} (columns: ${COLUMNS.join(",")}; amount in yuan)` };
  const unknown = header.filter((h) => !(COLUMNS as readonly string[]).includes(h));
  if (unknown.length) return { error: `unknown column ${unknown.join(", ")} (columns: ${COLUMNS.join(",")})` };
  const at = (row: string[], c: string) => row[header.indexOf(c)]?.trim() ?? "";
  const lines = rows.slice(1).map((row) => ({
    out_payout_no: at(row, "out_payout_no"),
    amount: yuanTextToFen(at(row, "amount")),
    payee: { account_name: at(row, "account_name"), account_number: at(row, "account_number"), bank_code: at(row, "bank_code") },
    purpose: at(row, "purpose"),
    ...(header.includes("urgency") && at(row, "urgency") !== "" ? { urgency: at(row, "urgency") } : {}),
  }));
  return { lines };
}

/** A progress bar on a terminal (redrawn in place); whole lines at each tenth elsewhere (logs, pipes). */
export function progressBar(total: number, write: (s: string) => void, tty: boolean): (done: number) => void {
  let last_tenth = -1;
  let last_done = -1;
  return (done) => {
    if (done === last_done) return;
    last_done = done;
    const width = 30;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    const text = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} lines`;
    if (tty) {
      write(`\r${text}${done === total ? "\n" : ""}`);
      return;
    }
    const tenth = total === 0 ? 10 : Math.floor((done * 10) / total);
    if (tenth !== last_tenth) {
      last_tenth = tenth;
      write(`${text}\n`);
    }
  };
}

/** `paycore payouts import FILE.csv --merchant M`: a file of payouts as batches of up to 1,000 lines, with progress. */
export async function payoutsCommand(config: Config, args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args, options: { merchant: { type: "string" }, batch: { type: "string" } }, allowPositionals: true });
  const [sub, file] = positionals;
  if (sub !== "import" || !file || !values.merchant || positionals.length !== 2) {
    console.error(PAYOUTS_USAGE);
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    console.error(`paycore payouts import: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return 2;
  }
  const parsed = csvToLines(text);
  if ("error" in parsed) {
    console.error(`paycore payouts import: ${file}: ${parsed.error}`);
    return 2;
  }
  if (parsed.lines.length === 0) {
    console.error(`paycore payouts import: ${file} has a header and no payouts`);
    return 2;
  }
  // The same file imports as the same batches: running it again answers them and pays nothing twice.
  const base = values.batch ?? `import-${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
  const chunks: Record<string, unknown>[][] = [];
  for (let i = 0; i < parsed.lines.length; i += PAYOUT_LIMITS.batch_lines_max) chunks.push(parsed.lines.slice(i, i + PAYOUT_LIMITS.batch_lines_max));
  const out_batch_no = (k: number) => (chunks.length === 1 ? base : `${base}-${k + 1}`).slice(0, 64);
  const write = (line: string) => console.log(line);
  const bar = progressBar(parsed.lines.length, (s) => process.stdout.write(s), process.stdout.isTTY === true);
  const server = runningServer(config);
  write(`importing ${parsed.lines.length} payouts from ${basename(file)} for ${values.merchant}${server ? ` through the running server at ${server.url}` : ""}`);
  const batches: Batch[] = [];
  const run = server ? (k: number, before: number) => throughServer(server, values.merchant!, out_batch_no(k), chunks[k]!, (n) => bar(before + n)) : null;
  if (run) {
    let before = 0;
    for (let k = 0; k < chunks.length; k++) {
      batches.push(await run(k, before));
      before += chunks[k]!.length;
      bar(before);
    }
  } else {
    batches.push(...(await locally(config, values.merchant, chunks, out_batch_no, bar)));
  }
  return report(batches, write);
}

async function locally(config: Config, merchant_id: string, chunks: Record<string, unknown>[][], out_batch_no: (k: number) => string, bar: (done: number) => void): Promise<Batch[]> {
  const { ctx, handle } = await openContext(config);
  try {
    await migrate(handle.db);
    const merchant = await ctx.db.selectFrom("merchants").select("merchant_id").where("merchant_id", "=", merchant_id).executeTakeFirst();
    if (!merchant) throw new Error(`no merchant ID ${merchant_id}`);
    const sandbox_url = config.sandbox_url ?? `http://${config.host}:${config.sandbox_port}`;
    const data_dir = config.data_dir === "memory" ? resolve("data") : resolve(config.data_dir);
    const pd = createPayoutDeps(ctx, new HttpRailGateway(sandbox_url, data_dir, { ...DEFAULT_RESERVE_ACCOUNT }));
    const out: Batch[] = [];
    let before = 0;
    for (const [k, chunk] of chunks.entries()) {
      const r = await createPayoutBatch(pd, merchant_id, { out_batch_no: out_batch_no(k), payouts: chunk }, (done) => bar(before + done));
      before += chunk.length;
      bar(before);
      out.push(PayoutWire.batchToWire(r.view));
    }
    return out;
  } finally {
    await handle.close();
  }
}

/** The server runs the batch; its progress is read meanwhile from the batch list (lines_done). */
async function throughServer(server: ServerLink, merchant_id: string, out_batch_no: string, lines: Record<string, unknown>[], progress: (done: number) => void): Promise<Batch> {
  let finished = false;
  const posted = server.call<Batch>("POST", `/admin/v1/merchants/${encodeURIComponent(merchant_id)}/payout-batches`, { out_batch_no, payouts: lines }).finally(() => (finished = true));
  const poll = (async () => {
    while (!finished) {
      await new Promise((r) => setTimeout(r, 250));
      if (finished) break;
      const page = await server
        .call<{ data: { lines_done: number }[] }>("GET", `/admin/v1/payout-batches?merchant_id=${encodeURIComponent(merchant_id)}&out_batch_no=${encodeURIComponent(out_batch_no)}`)
        .catch(() => ({ data: [] }));
      if (page.data[0]) progress(page.data[0].lines_done);
    }
  })();
  const [batch] = await Promise.all([posted, poll]);
  return batch;
}

function report(batches: Batch[], write: (line: string) => void): number {
  let rejected = 0;
  let offset = 0;
  for (const b of batches) {
    const c = b.counts;
    write(`batch ${b.batch_id} (${b.out_batch_no}): ${b.line_count} lines — succeeded ${c.succeeded}, processing ${c.processing}, queued ${c.queued}, failed ${c.failed}, returned ${c.returned}, rejected ${c.rejected}`);
    for (const l of b.lines) {
      if (!l.error) continue;
      rejected++;
      // File line numbers: the header is line 1.
      write(`  rejected: file line ${offset + l.line + 2}${l.out_payout_no ? ` (${l.out_payout_no})` : ""}: ${l.error.code}: ${l.error.message}`);
    }
    offset += b.line_count;
  }
  write(rejected ? `${rejected} line(s) rejected; nothing moved for them (fix and import them again)` : "every line accepted");
  return rejected ? 1 : 0;
}
