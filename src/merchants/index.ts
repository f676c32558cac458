export * from "./entities.ts";
export * from "./merchants.ts";
export * from "./keys.ts";
export * as merchantSchemas from "./schemas.ts";
export { SETTLEMENT_CHANGE_KIND, needsFourEyes as merchantPatchNeedsFourEyes, settlementChangeKind } from "./proposals.ts";
