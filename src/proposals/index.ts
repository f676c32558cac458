export { Proposals, PROPOSAL_STATUSES, proposalToWire, type Actor as ProposalActor, type ProposalQuery, type ProposalStatus, type ProposalWire } from "./proposals.ts";
export { DEFAULT_APPROVER_ROLES, ProposalRegistry, type ApprovalActor, type ProposalKind } from "./registry.ts";
export { PROPOSAL_LIMITS } from "./limits.ts";
