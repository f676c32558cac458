import { z } from "zod";
import type { DepositRow, PayoutBatchRow, PayoutRow } from "../db/index.ts";
import { cnapsParticipant } from "../kernel/banks.ts";
import { LIMITS } from "../kernel/limits.ts";
import { fenToWire } from "../kernel/money.ts";
import { RAILS } from "../kernel/cnaps/hours.ts";
import { PAYOUT_LIMITS } from "./limits.ts";

/** Wire schemas of payouts and deposits (docs/payouts.md). */

const outNo = z.string().regex(/^[A-Za-z0-9_\-.:]{1,64}$/, "1..64 of letters, digits, _ - . :");
export const CnapsCode = z
  .string()
  .regex(/^\d{12}$/, "a 12-digit CNAPS code")
  .refine((code) => cnapsParticipant(code) !== undefined, "not a participant in the CNAPS bank directory");
export const Payee = z.strictObject({
  account_name: z.string().trim().min(1, "must not be empty").max(PAYOUT_LIMITS.payee_name_chars_max),
  account_number: z.string().regex(/^\d{8,32}$/, "8 to 32 digits"),
  bank_code: CnapsCode,
});
export const PayoutFields = {
  out_payout_no: outNo,
  amount: z.number().int().min(1, "must be at least 1 fen").max(Number(PAYOUT_LIMITS.amount_fen_max), `at most ${PAYOUT_LIMITS.amount_fen_max} fen`),
  currency: z.literal("CNY").default("CNY"),
  payee: Payee,
  purpose: z.string().trim().min(1).max(PAYOUT_LIMITS.purpose_chars_max),
  urgency: z.enum(["normal", "urgent"]).default("normal"),
};
export const PayoutCreate = z.strictObject(PayoutFields);
export type PayoutCreateInput = z.infer<typeof PayoutCreate>;

export const PayoutBatchCreate = z.strictObject({
  out_batch_no: outNo,
  // Lines are validated one by one (a bad line rejects that line only).
  payouts: z.array(z.unknown()).min(1).max(PAYOUT_LIMITS.batch_lines_max).describe(`At most ${PAYOUT_LIMITS.batch_lines_max} lines, each with the fields of POST /v1/payouts`),
});
export const AdminBatchQuery = z.strictObject({ ...pageFields(), merchant_id: z.string().min(1).max(64).optional(), out_batch_no: outNo.optional() });
export const AdminBatchCreate = PayoutBatchCreate;

function pageFields() {
  return {
    limit: z.coerce.number().int().min(1).max(LIMITS.page_size_max).default(LIMITS.page_size_default),
    cursor: z.string().min(1).max(64).optional(),
  };
}
const page = pageFields();
const Status = z.enum(["queued", "processing", "succeeded", "failed", "returned"]);
export const PayoutListQuery = z.strictObject({ ...page, out_payout_no: outNo.optional(), status: Status.optional() });
export const AdminPayoutQuery = z.strictObject({ ...page, status: Status.optional(), merchant_id: z.string().min(1).max(64).optional(), rail: z.enum(RAILS).optional(), batch_id: z.string().min(1).max(64).optional(), alert: z.enum(["true", "false"]).optional().describe("true: payouts flagged as not final after the whole query schedule (the flag stays once final; with status=processing, those still open)") });
export const DepositListQuery = z.strictObject({ ...page, status: z.enum(["credited", "returning", "returned"]).optional() });

const time = z.string().nullable();
export const PayoutOut = z.object({
  payout_id: z.string(),
  out_payout_no: z.string(),
  amount: z.number().int(),
  fee: z.number().int(),
  currency: z.literal("CNY"),
  payee: z.object({ account_name: z.string(), account_number_last4: z.string(), bank_code: z.string() }),
  purpose: z.string(),
  urgency: z.enum(["normal", "urgent"]),
  status: Status,
  rail: z.enum(RAILS).nullable(),
  route_reason: z.string().describe("Why this rail, or why it waits, in words"),
  failure_code: z.string().nullable(),
  batch_id: z.string().nullable(),
  created_at: z.string(),
  succeeded_at: time,
  returned_at: time,
});

export function payoutToWire(p: PayoutRow) {
  return {
    payout_id: p.payout_id,
    out_payout_no: p.out_payout_no,
    amount: fenToWire(p.amount),
    fee: fenToWire(p.fee),
    currency: p.currency,
    payee: { account_name: p.payee_account_name, account_number_last4: p.payee_account_last4, bank_code: p.payee_bank_code },
    purpose: p.purpose,
    urgency: p.urgency,
    status: p.status,
    rail: p.rail,
    route_reason: p.route_reason,
    failure_code: p.failure_code,
    batch_id: p.batch_id,
    created_at: p.created_at.toISOString(),
    succeeded_at: p.succeeded_at?.toISOString() ?? null,
    returned_at: p.returned_at?.toISOString() ?? null,
  };
}

export const DepositOut = z.object({
  deposit_id: z.string(),
  amount: z.number().int(),
  currency: z.literal("CNY"),
  payer: z.object({ account_name: z.string(), account_number_last4: z.string(), bank_code: z.string() }),
  status: z.enum(["credited", "returning", "returned"]).describe("returning: being sent back to the payer"),
  failure_code: z.string().nullable(),
  created_at: z.string(),
  returned_at: time,
});

export function depositToWire(d: DepositRow) {
  return {
    deposit_id: d.deposit_id,
    amount: fenToWire(d.amount),
    currency: "CNY" as const,
    payer: { account_name: d.payer_account_name, account_number_last4: d.payer_account_last4, bank_code: d.payer_bank_code },
    status: d.status,
    failure_code: d.failure_code,
    created_at: d.created_at.toISOString(),
    returned_at: d.returned_at?.toISOString() ?? null,
  };
}

const LineError = z.object({ code: z.string(), message: z.string().describe("Names the field: payouts.<line>.<field>"), field: z.string().optional() });
const BatchCounts = z.object({ queued: z.number().int(), processing: z.number().int(), succeeded: z.number().int(), failed: z.number().int(), returned: z.number().int(), rejected: z.number().int().describe("Lines refused at creation (bad input, insufficient_balance, …): no payout, nothing reserved") });
export const PayoutBatchOut = z.object({
  batch_id: z.string(),
  out_batch_no: z.string(),
  line_count: z.number().int(),
  counts: BatchCounts,
  lines: z.array(z.object({ line: z.number().int().describe("0-based, in the order sent"), out_payout_no: z.string().nullable(), payout: PayoutOut.nullable(), error: LineError.nullable() })),
  created_at: z.string(),
});
export const PayoutBatchSummaryOut = z.object({
  batch_id: z.string(),
  merchant_id: z.string(),
  out_batch_no: z.string(),
  line_count: z.number().int(),
  lines_done: z.number().int().describe("While the batch runs: the payouts made so far; once finished: line_count"),
  finished: z.boolean(),
  lines_final: z.number().int().describe("Lines with a final outcome: payouts succeeded, failed or returned, and (once finished) lines rejected. The batch's progress is lines_final of line_count"),
  created_at: z.string(),
});

type BatchLine = { line: number; out_payout_no: string | null } & ({ payout: PayoutRow } | { error: { code: string; message: string; field?: string } });
export function batchToWire(v: { batch: PayoutBatchRow; lines: readonly BatchLine[]; counts: z.infer<typeof BatchCounts> }) {
  return {
    batch_id: v.batch.batch_id,
    out_batch_no: v.batch.out_batch_no,
    line_count: v.batch.line_count,
    counts: v.counts,
    lines: v.lines.map((l) => ({ line: l.line, out_payout_no: l.out_payout_no, payout: "payout" in l ? payoutToWire(l.payout) : null, error: "error" in l ? l.error : null })),
    created_at: v.batch.created_at.toISOString(),
  };
}

export function batchSummaryToWire(s: { batch: PayoutBatchRow; lines_done: number; finished: boolean; lines_final: number }) {
  const b = s.batch;
  return { batch_id: b.batch_id, merchant_id: b.merchant_id, out_batch_no: b.out_batch_no, line_count: b.line_count, lines_done: s.lines_done, finished: s.finished, lines_final: s.lines_final, created_at: b.created_at.toISOString() };
}
