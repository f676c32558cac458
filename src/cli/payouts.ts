import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import type { Config } from "../config.ts";
import { migrate } from "../db/index.ts";
import { newId } from "../kernel/ids.ts";
import { localCliOperator } from "../operators/index.ts";
import { createPayoutDeps, PAYOUT_LIMITS, payoutImportKind, PayoutWire, proposePayoutImport, yuanText } from "../payouts/index.ts";
import { Proposals, type ProposalWire } from "../proposals/index.ts";
import { openContext } from "./main.ts";
import { runningServer } from "./server-link.ts";

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

/**
 * `paycore payouts import FILE.csv --merchant M`: a file of payouts proposed as batches of up to
 * 1,000 lines (four eyes: another admin approves each, then it runs; src/payouts/imports.ts).
 */
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
  const server = runningServer(config);
  write(`proposing ${parsed.lines.length} payouts from ${basename(file)} for ${values.merchant}${server ? ` through the running server at ${server.url}` : ""}`);
  const answers: Answer[] = [];
  if (server) {
    for (const [k, chunk] of chunks.entries()) {
      answers.push(await server.call<Answer>("POST", `/admin/v1/merchants/${encodeURIComponent(values.merchant)}/payout-batches`, { out_batch_no: out_batch_no(k), payouts: chunk }));
    }
  } else {
    answers.push(...(await locally(config, values.merchant, chunks, out_batch_no)));
  }
  return report(answers, write);
}

/** What the import answers per batch: the proposal another admin decides, or the batch once it exists. */
type Answer = Batch | ProposalWire;
const isProposal = (a: Answer): a is ProposalWire => "proposal_id" in a;

/**
 * On PostgreSQL the CLI records the proposals itself, as the "paycore CLI" operator (the
 * operator the server's CLI token names); approving them still takes another admin, through the
 * admin API or the console.
 */
async function locally(config: Config, merchant_id: string, chunks: Record<string, unknown>[][], out_batch_no: (k: number) => string): Promise<Answer[]> {
  const { ctx, handle } = await openContext(config);
  try {
    await migrate(handle.db);
    const merchant = await ctx.db.selectFrom("merchants").select("merchant_id").where("merchant_id", "=", merchant_id).executeTakeFirst();
    if (!merchant) throw new Error(`no merchant ID ${merchant_id}`);
    const operator = await localCliOperator(ctx);
    const pd = createPayoutDeps(ctx, null);
    const proposals = new Proposals(ctx);
    proposals.register(payoutImportKind(pd));
    const out: Answer[] = [];
    for (const [k, chunk] of chunks.entries()) {
      const r = await proposePayoutImport(pd, proposals, { operator, request_id: newId("req", ctx.clock.now().getTime()) }, merchant_id, { out_batch_no: out_batch_no(k), payouts: chunk });
      out.push(r.status === 202 ? r.proposal : PayoutWire.batchToWire(r.batch));
    }
    return out;
  } finally {
    await handle.close();
  }
}

function report(answers: Answer[], write: (line: string) => void): number {
  let rejected = 0;
  let offset = 0;
  const line_of = (line: number, out_payout_no: string | null) => `file line ${offset + line + 2}${out_payout_no ? ` (${out_payout_no})` : ""}`; // the header is line 1
  for (const a of answers) {
    if (isProposal(a)) {
      const s = a.summary as ImportSummary;
      write(`proposal ${a.proposal_id} (${s.out_batch_no}): ${s.line_count} lines, ${yuanText(BigInt(s.total_amount))} yuan to pay, ${s.rejected_count} line(s) that would be rejected — ${a.status === "pending" ? "waits for another admin" : a.status}`);
      for (const r of s.rejected) write(`  rejected: ${line_of(r.line, r.out_payout_no)}: ${r.code}: ${r.message}`);
      if (s.rejected_count > s.rejected.length) write(`  … and ${s.rejected_count - s.rejected.length} more (the batch lists each once it runs)`);
      rejected += s.rejected_count;
      offset += s.line_count;
      continue;
    }
    const c = a.counts;
    write(`batch ${a.batch_id} (${a.out_batch_no}): ${a.line_count} lines — succeeded ${c.succeeded}, processing ${c.processing}, queued ${c.queued}, failed ${c.failed}, returned ${c.returned}, rejected ${c.rejected}`);
    for (const l of a.lines) {
      if (!l.error) continue;
      rejected++;
      write(`  rejected: ${line_of(l.line, l.out_payout_no)}: ${l.error.code}: ${l.error.message}`);
    }
    offset += a.line_count;
  }
  const pending = answers.filter((a) => isProposal(a) && a.status === "pending");
  if (pending.length > 0) {
    write(`four eyes: another admin approves ${pending.length === 1 ? "the proposal" : `the ${pending.length} proposals`} (POST /admin/v1/proposals/{proposal_id}/approve, or the console's Proposals); each batch then runs by itself (GET /admin/v1/payout-batches?merchant_id=…)`);
  }
  write(rejected ? `${rejected} line(s) rejected; nothing moves for them (fix and import them again)` : "every line accepted");
  return rejected ? 1 : 0;
}

/** The proposal summary of an import (src/payouts/imports.ts). */
interface ImportSummary {
  out_batch_no: string;
  line_count: number;
  total_amount: number;
  rejected_count: number;
  rejected: { line: number; out_payout_no: string | null; code: string; message: string }[];
}
