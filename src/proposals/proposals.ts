import type { Ctx } from "../context.ts";
import type { ProposalRow } from "../db/index.ts";
import { toPage } from "../db/paging.ts";
import { assert } from "../kernel/assert.ts";
import { PaycoreError, invalidRequest, notFound } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import type { Operator } from "../operators/index.ts";
import { recordAudit } from "../operators/index.ts";
import { PROPOSAL_LIMITS } from "./limits.ts";
import { DEFAULT_APPROVER_ROLES, ProposalRegistry, type ProposalKind } from "./registry.ts";

/**
 * Four eyes (maker–checker). A change that moves money's destination or releases money is
 * proposed by one operator (answer 202 with the proposal) and applied only when another operator
 * approves it. Proposal, approval and rejection are each audited in the transaction that makes
 * them; the approval applies the change in that same transaction, so a proposal is approved if
 * and only if its change took effect.
 *
 * Costs: propose = 1 count + 1 insert + 1 audit insert, one commit. Approve = the proposal row
 * locked FOR UPDATE, the kind's own statements, 1 update + 1 audit insert, one commit.
 */
export type ProposalStatus = ProposalRow["status"];
export const PROPOSAL_STATUSES: readonly ProposalStatus[] = ["pending", "approved", "rejected"];

export interface Actor {
  operator: Operator;
  request_id: string;
}

export interface ProposalWire {
  proposal_id: string;
  kind: string;
  status: ProposalStatus;
  target_type: string;
  target_id: string;
  summary: unknown;
  proposed_by: string;
  proposed_at: string;
  decided_by: string | null;
  decided_at: string | null;
  decision_note: string | null;
  result: unknown;
}

export function proposalToWire(r: ProposalRow): ProposalWire {
  return {
    proposal_id: r.proposal_id,
    kind: r.kind,
    status: r.status,
    target_type: r.target_type,
    target_id: r.target_id,
    summary: r.summary,
    proposed_by: r.proposed_by,
    proposed_at: r.proposed_at.toISOString(),
    decided_by: r.decided_by,
    decided_at: r.decided_at?.toISOString() ?? null,
    decision_note: r.decision_note,
    result: r.result ?? null,
  };
}

const sealContext = (proposal_id: string) => `proposal:${proposal_id}`;

export interface ProposalQuery {
  status?: ProposalStatus | undefined;
  kind?: string | undefined;
  target_id?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

/** The proposals of one server: its registry of kinds, and propose / approve / reject / list. */
export class Proposals {
  readonly registry = new ProposalRegistry();

  constructor(private readonly ctx: Ctx) {}

  register<P>(kind: ProposalKind<P>): void {
    this.registry.register(kind);
  }

  /** Records a proposal; nothing changes until another operator approves it. */
  async propose(actor: Actor, kind: string, payload: unknown): Promise<ProposalWire> {
    const def = this.registry.get(kind);
    assert(def !== undefined, `proposal kind ${kind} is not registered`);
    const parsed = def.payload.parse(payload);
    await def.check?.(this.ctx.db, parsed);
    const plain = JSON.stringify(parsed);
    assert(plain.length <= PROPOSAL_LIMITS.payload_bytes_max, `proposal ${kind}: payload of ${plain.length} bytes`);
    const now = this.ctx.clock.now();
    const proposal_id = newId("prp", now.getTime());
    const target = def.target(parsed);
    return this.ctx.db.transaction().execute(async (trx) => {
      const pending = await trx
        .selectFrom("proposals")
        .select((eb) => eb.fn.countAll<string>().as("n"))
        .where("target_type", "=", target.target_type)
        .where("target_id", "=", target.target_id)
        .where("status", "=", "pending")
        .executeTakeFirstOrThrow();
      if (Number(pending.n) >= PROPOSAL_LIMITS.pending_per_target_max) {
        throw invalidRequest("proposal", `${target.target_type} ${target.target_id} already has ${pending.n} pending proposals; decide those first`);
      }
      const row: ProposalRow = {
        proposal_id,
        kind,
        ...target,
        payload_enc: this.ctx.box.seal(plain, sealContext(proposal_id)),
        summary: JSON.stringify(def.describe(parsed)),
        status: "pending",
        proposed_by: actor.operator.operator_id,
        proposed_at: now,
        decided_by: null,
        decided_at: null,
        decision_note: null,
        result: null,
      };
      await trx.insertInto("proposals").values(row).execute();
      const wire = proposalToWire({ ...row, summary: def.describe(parsed) });
      const audit = { operator_id: actor.operator.operator_id, request_id: actor.request_id, target_type: "proposal", target_id: proposal_id };
      await recordAudit(trx, { ...audit, action: "proposal.create", before: null, after: wire }, now);
      return wire;
    });
  }

  /** A different operator approves: the change applies in the same transaction. */
  async approve(actor: Actor, proposal_id: string, note: string | undefined): Promise<ProposalWire> {
    return this.decide(actor, proposal_id, "approved", note);
  }

  /** Anyone allowed to write rejects; the proposer rejecting their own withdraws it. */
  async reject(actor: Actor, proposal_id: string, note: string | undefined): Promise<ProposalWire> {
    return this.decide(actor, proposal_id, "rejected", note);
  }

  private async decide(actor: Actor, proposal_id: string, status: "approved" | "rejected", note: string | undefined): Promise<ProposalWire> {
    const now = this.ctx.clock.now();
    return this.ctx.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom("proposals").selectAll().where("proposal_id", "=", proposal_id).forUpdate().executeTakeFirst();
      if (!row) throw notFound("proposal");
      if (row.status !== "pending") throw invalidRequest("proposal_id", `this proposal is already ${row.status}`);
      const def = this.registry.get(row.kind);
      assert(def !== undefined, `proposal ${proposal_id}: kind ${row.kind} is not registered`);
      let result: unknown = null;
      if (status === "approved") {
        checkApprover(def, row, actor.operator);
        const payload = def.payload.parse(JSON.parse(this.ctx.box.open(row.payload_enc, sealContext(proposal_id))));
        result = await def.apply(trx, payload, { operator_id: actor.operator.operator_id, request_id: actor.request_id, proposal_id, proposed_by: row.proposed_by });
      }
      const decided = { status, decided_by: actor.operator.operator_id, decided_at: now, decision_note: note ?? null, result: result === null ? null : JSON.stringify(result) };
      await trx.updateTable("proposals").set(decided).where("proposal_id", "=", proposal_id).execute();
      const before = proposalToWire(row);
      const after = proposalToWire({ ...row, ...decided, result });
      const audit = { operator_id: actor.operator.operator_id, request_id: actor.request_id, target_type: "proposal", target_id: proposal_id };
      await recordAudit(trx, { ...audit, action: status === "approved" ? "proposal.approve" : "proposal.reject", before, after }, now);
      return after;
    });
  }

  async get(proposal_id: string): Promise<ProposalWire> {
    const row = await this.ctx.db.selectFrom("proposals").selectAll().where("proposal_id", "=", proposal_id).executeTakeFirst();
    if (!row) throw notFound("proposal");
    return proposalToWire(row);
  }

  async list(q: ProposalQuery): Promise<{ data: ProposalWire[]; next_cursor: string | null }> {
    let query = this.ctx.db.selectFrom("proposals").selectAll().orderBy("proposal_id", "desc").limit(q.limit + 1);
    if (q.status) query = query.where("status", "=", q.status);
    if (q.kind) query = query.where("kind", "=", q.kind);
    if (q.target_id) query = query.where("target_id", "=", q.target_id);
    if (q.cursor) query = query.where("proposal_id", "<", q.cursor);
    const page = toPage(await query.execute(), q.limit, (r) => r.proposal_id);
    return { data: page.data.map(proposalToWire), next_cursor: page.next_cursor };
  }
}

function checkApprover(def: ProposalKind<unknown>, row: ProposalRow, operator: Operator): void {
  if (row.proposed_by === operator.operator_id) {
    throw new PaycoreError("forbidden", "four eyes: a proposal must be approved by an operator other than the one who proposed it");
  }
  const roles = def.approver_roles ?? DEFAULT_APPROVER_ROLES;
  if (!roles.includes(operator.role)) {
    throw new PaycoreError("forbidden", `role '${operator.role}' may not approve ${row.kind} (needs ${roles.join(" or ")})`);
  }
}

