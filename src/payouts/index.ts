/** Business payouts over the CNAPS rails (HVPS, BEPS, IBPS, bank-direct), deposits and returns. docs/payouts.md. */
export { createPayoutDeps, DEFAULT_RESERVE_ACCOUNT, type PayoutDeps } from "./deps.ts";
export { createPayoutBatch, getPayoutBatch, listPayoutBatches, type BatchSummary, type BatchView } from "./batches.ts";
export { PAYOUT_IMPORT_KIND, payoutImportKind, proposePayoutImport, runApprovedImports, type ImportAnswer } from "./imports.ts";
export { listDeposits, receiveDeposit } from "./deposits.ts";
export { HttpRailGateway, type RailGateway, type RailOutcome } from "./gateway.ts";
export { handleRailPush } from "./inbound.ts";
export { PAYOUT_LIMITS } from "./limits.ts";
export { createPayout, getPayout, listPayouts, type PayoutAnswer, type PayoutQuery } from "./payouts.ts";
export { railViews, updateRail, type RailPatch, type RailView } from "./rails.ts";
export { routePayout, yuanText, type PayoutRoute, type RailChoice } from "./routing.ts";
export { queryPayout, sweepPayouts } from "./sweeper.ts";
export { routeAgain, sendPayout } from "./outcomes.ts";
export { recordSettlementPayout, type SettlementPayoutInput } from "./settlement.ts";
export * as PayoutWire from "./wire.ts";
