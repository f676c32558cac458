import type { Kysely } from "kysely";
import type { z } from "zod";
import type { Database } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import type { OperatorRole } from "../operators/index.ts";

/** Who approves: the second person, and the request their approval came with (for the audit log). */
export interface ApprovalActor {
  operator_id: string;
  request_id: string;
  proposal_id: string;
  proposed_by: string;
}

/**
 * One kind of change that needs a second person. The module owning the change registers it; the
 * proposals module stores, lists and decides proposals without knowing what they change.
 */
export interface ProposalKind<P> {
  /** Dotted name, owner first: `merchant.settlement_account`, `channel.cost`. */
  kind: string;
  payload: z.ZodType<P>;
  /** Roles allowed to approve (always someone other than the proposer). Default admin and operator. */
  approver_roles?: readonly OperatorRole[];
  target(payload: P): { target_type: string; target_id: string };
  /** Refuses at proposal time what could not apply (unknown target…): nothing is stored then. */
  check?(db: Kysely<Database>, payload: P): Promise<void>;
  /** What operators see in the list and the audit log: never a full account number. */
  describe(payload: P): unknown;
  /**
   * Applies the change inside the approval's transaction (database only, never a network call:
   * whatever must reach a bank happens in the usual passes afterwards) and writes the change's own
   * audit entry with the approver as actor. Its answer is kept on the proposal as `result`.
   */
  apply(trx: Kysely<Database>, payload: P, actor: ApprovalActor): Promise<unknown>;
}

export const DEFAULT_APPROVER_ROLES: readonly OperatorRole[] = ["admin", "operator"];

export class ProposalRegistry {
  private readonly kinds = new Map<string, ProposalKind<unknown>>();

  register<P>(kind: ProposalKind<P>): void {
    assert(!this.kinds.has(kind.kind), `proposal kind ${kind.kind} registered twice`);
    assert(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/.test(kind.kind), `proposal kind ${kind.kind}: owner.name`);
    this.kinds.set(kind.kind, kind as ProposalKind<unknown>);
  }

  get(kind: string): ProposalKind<unknown> | undefined {
    return this.kinds.get(kind);
  }

  names(): string[] {
    return [...this.kinds.keys()].sort();
  }
}
