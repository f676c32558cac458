import { z } from "zod";
import { PROPOSAL_LIMITS, PROPOSAL_STATUSES, type Proposals } from "../../proposals/index.ts";
import { adminRoute, type RouteDef } from "../route.ts";
import { PageQuery, listOf } from "./common.ts";

export const ProposalOut = z.object({
  proposal_id: z.string(),
  kind: z.string(),
  status: z.enum(["pending", "approved", "rejected"]),
  target_type: z.string(),
  target_id: z.string(),
  summary: z.unknown(),
  proposed_by: z.string(),
  proposed_at: z.string(),
  decided_by: z.string().nullable(),
  decided_at: z.string().nullable(),
  decision_note: z.string().nullable(),
  result: z.unknown(),
});

const ProposalId = z.strictObject({ proposal_id: z.string().min(1).max(64) });
const Decision = z.strictObject({ note: z.string().trim().min(1).max(PROPOSAL_LIMITS.note_chars_max).optional() }).optional();

/** Four eyes: the pending changes, and approving or rejecting them (docs/security.md). */
export function adminProposalRoutes(proposals: Proposals): RouteDef[] {
  const actor = (i: { operator: { operator_id: string; name: string; role: "admin" | "operator" | "auditor" }; request_id: string }) => ({ operator: i.operator, request_id: i.request_id });
  return [
    adminRoute({
      method: "GET",
      url: "/admin/v1/proposals",
      summary: "Four-eyes proposals, newest first (filter status: pending | approved | rejected, kind, target_id)",
      tags: ["Admin: operators"],
      query: z.strictObject({ ...PageQuery, status: z.enum(PROPOSAL_STATUSES).optional(), kind: z.string().max(64).optional(), target_id: z.string().max(64).optional() }),
      response: listOf(ProposalOut),
      handler: async (i) => ({ body: await proposals.list(i.query) }),
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/proposals/:proposal_id",
      summary: "One four-eyes proposal",
      tags: ["Admin: operators"],
      params: ProposalId,
      response: ProposalOut,
      handler: async (i) => ({ body: await proposals.get(i.params.proposal_id) }),
    }),
    adminRoute({
      method: "POST",
      url: "/admin/v1/proposals/:proposal_id/approve",
      summary: "Approve a proposal: its change takes effect now. The proposer cannot approve their own (forbidden)",
      tags: ["Admin: operators"],
      params: ProposalId,
      body: Decision,
      response: ProposalOut,
      handler: async (i) => ({ body: await proposals.approve(actor(i), i.params.proposal_id, i.body?.note) }),
    }),
    adminRoute({
      method: "POST",
      url: "/admin/v1/proposals/:proposal_id/reject",
      summary: "Reject a proposal (the proposer rejecting their own withdraws it): nothing changes",
      tags: ["Admin: operators"],
      params: ProposalId,
      body: Decision,
      response: ProposalOut,
      handler: async (i) => ({ body: await proposals.reject(actor(i), i.params.proposal_id, i.body?.note) }),
    }),
  ];
}
