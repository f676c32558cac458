import { sql, type Kysely } from "kysely";
import { z } from "zod";
import type { Database, PayoutBatchImportRow } from "../db/index.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { PaycoreError, invalidRequest } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import { recordAudit } from "../operators/index.ts";
import type { ProposalActor as Actor, ProposalKind, ProposalWire, Proposals } from "../proposals/index.ts";
import { batchRequestHash, checkBatchLines, createPayoutBatch, findBatch, getPayoutBatch, type BatchView } from "./batches.ts";
import type { PayoutDeps } from "./deps.ts";
import { PAYOUT_LIMITS } from "./limits.ts";

/**
 * An operator's import of a payout batch for a merchant ID (`POST /admin/v1/merchants/{id}/payout-batches`,
 * `paycore payouts import`): it sends the merchant's money to payees the operator names, so it is
 * four eyes, like every other change that decides where money goes (docs/security.md).
 *
 * 1. Propose: the lines are checked for form (what would be rejected, and the sum of the rest),
 *    sealed into `payout_batch_imports`, and a proposal of kind `payout.batch_import` is made
 *    (answer 202). Nothing is reserved or sent.
 * 2. Approve (another admin): in the approval's transaction the batch row is created, empty, and
 *    the import marked approved; the approver is audited as `payout_batch.import`.
 * 3. Run: the payout sweeper takes the approved import under a lease and runs its lines exactly as
 *    the merchant's own `POST /v1/payout-batches` would (each line reserved on its own, messages
 *    sent after), then drops the sealed lines. A run cut short is taken again when the lease ends:
 *    lines are payouts keyed by `out_payout_no`, so nothing is paid twice.
 *
 * A rejected proposal's lines are dropped by the sweeper. A repeat of the same import (same
 * merchant ID, `out_batch_no` and lines) answers the open proposal, or the batch once it exists;
 * other lines under the same `out_batch_no` are a conflict.
 */
export const PAYOUT_IMPORT_KIND = "payout.batch_import";

/** Lines named in the proposal's summary as rejected for their form (the count says how many in all). */
const REJECTED_SHOWN_MAX = 20;

const RejectedLine = z.strictObject({ line: z.number().int(), out_payout_no: z.string().nullable(), code: z.string(), message: z.string(), field: z.string().optional() });
const Payload = z.strictObject({
  import_id: z.string().min(1).max(64),
  merchant_id: z.string().min(1).max(64),
  out_batch_no: z.string().min(1).max(64),
  line_count: z.number().int().min(1).max(PAYOUT_LIMITS.batch_lines_max),
  /** Fen, of the lines that parse: what the checker approves. */
  total_amount: z.number().int().min(0),
  rejected_count: z.number().int().min(0),
  rejected: z.array(RejectedLine).max(REJECTED_SHOWN_MAX),
});
type Payload = z.infer<typeof Payload>;

const linesContext = (import_id: string) => `payout_import:${import_id}:lines`;

/** The proposal kind: an admin approves, never the proposer; applying creates the (empty) batch. */
export function payoutImportKind(pd: PayoutDeps): ProposalKind<Payload> {
  return {
    kind: PAYOUT_IMPORT_KIND,
    approver_roles: ["admin"],
    payload: Payload,
    target: (p) => ({ target_type: "merchant", target_id: p.merchant_id }),
    describe: (p) => p,
    apply: async (trx, p, actor) => {
      const now = pd.ctx.clock.now();
      const imp = await trx.selectFrom("payout_batch_imports").selectAll().where("import_id", "=", p.import_id).forUpdate().executeTakeFirst();
      if (!imp || imp.status !== "proposed") throw invalidRequest("proposal_id", `this import is ${imp?.status ?? "gone"}`);
      const existing = await findBatch(trx, imp.merchant_id, imp.out_batch_no);
      if (existing && existing.request_hash !== imp.request_hash) throw new PaycoreError("duplicate_out_trade_no", "out_batch_no was used with other payouts since this import was proposed");
      const batch_id = existing?.batch_id ?? newId("pob", now.getTime());
      if (!existing) {
        await trx
          .insertInto("payout_batches")
          .values({ batch_id, merchant_id: imp.merchant_id, out_batch_no: imp.out_batch_no, request_hash: imp.request_hash, line_count: imp.line_count, results: JSON.stringify([]), created_at: now })
          .execute();
      }
      await trx.updateTable("payout_batch_imports").set({ status: "approved", batch_id, updated_at: now }).where("import_id", "=", imp.import_id).execute();
      const after = { import_id: imp.import_id, out_batch_no: imp.out_batch_no, batch_id, line_count: imp.line_count, total_amount: p.total_amount, proposed_by: actor.proposed_by, proposal_id: actor.proposal_id };
      await recordAudit(trx, { operator_id: actor.operator_id, request_id: actor.request_id, action: "payout_batch.import", target_type: "merchant", target_id: imp.merchant_id, before: null, after }, now);
      return { batch_id, import_id: imp.import_id };
    },
  };
}

export type ImportAnswer = { status: 202; proposal: ProposalWire } | { status: 200; batch: BatchView };

/**
 * Proposes the import of a batch for a merchant ID (step 1 above). The merchant ID must exist.
 * A batch none of whose lines could be paid is refused at once, naming the first line's problem.
 */
export async function proposePayoutImport(pd: PayoutDeps, proposals: Proposals, actor: Actor, merchant_id: string, input: { out_batch_no: string; payouts: readonly unknown[] }): Promise<ImportAnswer> {
  const db = pd.ctx.db;
  const request_hash = batchRequestHash(pd, input.payouts);
  const batch = await findBatch(db, merchant_id, input.out_batch_no);
  if (batch) {
    if (batch.request_hash !== request_hash) throw new PaycoreError("duplicate_out_trade_no", "out_batch_no was already used with other payouts");
    return { status: 200, batch: await getPayoutBatch(db, merchant_id, batch.batch_id) };
  }
  const repeat = await openImport(db, merchant_id, input.out_batch_no, request_hash);
  if (repeat) return repeat;
  const checked = checkBatchLines(input.payouts);
  if (checked.rejected.length === input.payouts.length) {
    const first = checked.rejected[0]!.error;
    throw new PaycoreError("invalid_request", `no line of this batch can be paid; the first: ${first.message}`, first.field);
  }
  const now = pd.ctx.clock.now();
  const import_id = newId("pbi", now.getTime());
  const row: PayoutBatchImportRow = {
    import_id,
    merchant_id,
    out_batch_no: input.out_batch_no,
    request_hash,
    lines_enc: pd.ctx.box.seal(JSON.stringify(input.payouts), linesContext(import_id)),
    line_count: input.payouts.length,
    total_amount: checked.total_amount,
    proposal_id: null,
    status: "proposed",
    batch_id: null,
    lease_until: null,
    created_at: now,
    updated_at: now,
  };
  try {
    await db.insertInto("payout_batch_imports").values(row).execute();
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const raced = await openImport(db, merchant_id, input.out_batch_no, request_hash);
    if (raced) return raced;
    throw err;
  }
  const payload: Payload = {
    import_id,
    merchant_id,
    out_batch_no: input.out_batch_no,
    line_count: input.payouts.length,
    total_amount: Number(checked.total_amount),
    rejected_count: checked.rejected.length,
    rejected: checked.rejected.slice(0, REJECTED_SHOWN_MAX).map((r) => ({ line: r.line, out_payout_no: r.out_payout_no, code: r.error.code, message: r.error.message, ...(r.error.field ? { field: r.error.field } : {}) })),
  };
  let proposal: ProposalWire;
  try {
    proposal = await proposals.propose(actor, PAYOUT_IMPORT_KIND, payload);
  } catch (err) {
    await db.deleteFrom("payout_batch_imports").where("import_id", "=", import_id).where("proposal_id", "is", null).execute();
    throw err;
  }
  await db.updateTable("payout_batch_imports").set({ proposal_id: proposal.proposal_id }).where("import_id", "=", import_id).execute();
  return { status: 202, proposal };
}

/** The open import of this batch number: its proposal if the lines are the same, a conflict if not. */
async function openImport(db: Kysely<Database>, merchant_id: string, out_batch_no: string, request_hash: string): Promise<ImportAnswer | null> {
  const open = await db
    .selectFrom("payout_batch_imports as i")
    .leftJoin("proposals as p", "p.proposal_id", "i.proposal_id")
    .select(["i.request_hash", "i.status", "i.batch_id", "p.proposal_id", "p.kind", "p.status as proposal_status", "p.target_type", "p.target_id", "p.summary", "p.proposed_by", "p.proposed_at", "p.decided_by", "p.decided_at", "p.decision_note", "p.result"])
    .where("i.merchant_id", "=", merchant_id)
    .where("i.out_batch_no", "=", out_batch_no)
    .where("i.status", "in", ["proposed", "approved"])
    .executeTakeFirst();
  if (!open) return null;
  if (open.request_hash !== request_hash) throw new PaycoreError("duplicate_out_trade_no", "out_batch_no is already proposed with other payouts");
  if (open.status === "approved" && open.batch_id) return { status: 200, batch: await getPayoutBatch(db, merchant_id, open.batch_id) };
  if (!open.proposal_id) throw new PaycoreError("idempotency_conflict", "this import is being proposed by another request; try again in a moment");
  return {
    status: 202,
    proposal: {
      proposal_id: open.proposal_id,
      kind: open.kind!,
      status: open.proposal_status!,
      target_type: open.target_type!,
      target_id: open.target_id!,
      summary: typeof open.summary === "string" ? JSON.parse(open.summary) : open.summary,
      proposed_by: open.proposed_by!,
      proposed_at: open.proposed_at!.toISOString(),
      decided_by: open.decided_by ?? null,
      decided_at: open.decided_at?.toISOString() ?? null,
      decision_note: open.decision_note ?? null,
      result: open.result ?? null,
    },
  };
}

const running = new WeakSet<PayoutDeps>();

/**
 * The sweeper's part (step 3 above), started without waiting for it: a 1,000-line import must not
 * hold up status queries. One import at a time per process; the lease keeps other processes off it.
 */
export function startApprovedImports(pd: PayoutDeps): void {
  if (running.has(pd)) return;
  running.add(pd);
  runApprovedImports(pd)
    .catch((err: Error) => pd.ctx.log.warn({ err: err.message }, "payout import run failed; the sweeper takes it again after its lease"))
    .finally(() => running.delete(pd));
}

/** Drops the sealed lines of imports whose proposal was rejected, or never recorded; returns how many. */
export async function dropRefusedImports(pd: PayoutDeps): Promise<number> {
  const db = pd.ctx.db;
  const now = pd.ctx.clock.now();
  const rejected = await sql`
    UPDATE payout_batch_imports i SET status = 'refused', lines_enc = NULL, updated_at = ${now}
    FROM proposals p
    WHERE i.status = 'proposed' AND p.proposal_id = i.proposal_id AND p.status = 'rejected'`.execute(db);
  // A process that died between recording the lines and recording their proposal left lines no one can approve.
  const orphans = await sql`
    UPDATE payout_batch_imports SET status = 'refused', lines_enc = NULL, updated_at = ${now}
    WHERE status = 'proposed' AND proposal_id IS NULL AND created_at < ${new Date(now.getTime() - PAYOUT_LIMITS.import_unproposed_ms)}`.execute(db);
  return Number(rejected.numAffectedRows ?? 0n) + Number(orphans.numAffectedRows ?? 0n);
}

/** Runs the approved imports until none is due; returns how many ran. */
export async function runApprovedImports(pd: PayoutDeps): Promise<number> {
  const db = pd.ctx.db;
  let ran = 0;
  for (;;) {
    const claimed = await claimImport(pd);
    if (!claimed) return ran;
    const payouts = JSON.parse(pd.ctx.box.open(claimed.lines_enc!, linesContext(claimed.import_id))) as unknown[];
    await createPayoutBatch(pd, claimed.merchant_id, { out_batch_no: claimed.out_batch_no, payouts });
    await db
      .updateTable("payout_batch_imports")
      .set({ status: "done", lines_enc: null, lease_until: null, updated_at: pd.ctx.clock.now() })
      .where("import_id", "=", claimed.import_id)
      .where("status", "=", "approved")
      .execute();
    ran++;
  }
}

async function claimImport(pd: PayoutDeps): Promise<PayoutBatchImportRow | undefined> {
  const now = pd.ctx.clock.now();
  const rows = await sql<PayoutBatchImportRow>`
    UPDATE payout_batch_imports SET lease_until = ${new Date(now.getTime() + PAYOUT_LIMITS.import_lease_ms)}
    WHERE import_id = (
      SELECT import_id FROM payout_batch_imports
      WHERE status = 'approved' AND (lease_until IS NULL OR lease_until <= ${now})
      ORDER BY created_at LIMIT 1
      FOR UPDATE SKIP LOCKED)
    RETURNING *`.execute(pd.ctx.db);
  return rows.rows[0];
}
