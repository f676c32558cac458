import type { PaymentDeps } from "../../payments/deps.ts";
import type { RouteDef } from "../route.ts";
import { adminChannelRoutes } from "./admin-channels.ts";
import { adminEventRoutes } from "./admin-events.ts";
import { adminPaymentRoutes } from "./admin-payments.ts";
import { callbackRoutes } from "./callbacks.ts";
import { openAgreementRoutes } from "./open-agreements.ts";
import { openPaymentRoutes } from "./open-payments.ts";
import { adminMerchantRoutes } from "./admin-merchants.ts";
import { adminOperatorRoutes } from "./admin-operators.ts";
import { healthRoutes } from "./health.ts";
import { openBalanceRoutes } from "./open-balance.ts";
import { openCampaignRoutes } from "./open-campaigns.ts";
import { hostedSigningRoutes } from "./hosted-signing.ts";
import { openSettlementRoutes } from "./open-settlement.ts";
import { adminLedgerRoutes } from "./admin-ledger.ts";
import { adminRiskRoutes } from "./admin-risk.ts";
import { Proposals } from "../../proposals/index.ts";
import { adminProposalRoutes } from "./admin-proposals.ts";
import { adminReconciliationRoutes } from "./admin-reconciliation.ts";
import { adminSettlementRunRoutes } from "./admin-settlement-runs.ts";
import { adminRailRoutes } from "./admin-rails.ts";
import { openPayoutRoutes, railCallbackRoutes } from "./open-payouts.ts";
import { createPayoutDeps } from "../../payouts/index.ts";
import { adminSessionRoute } from "./admin-session.ts";
import { adminAgreementRoutes } from "./admin-agreements.ts";
import { adminPaymentHistoryRoutes } from "./admin-payment-history.ts";
import { adminStatsRoutes } from "./admin-stats.ts";

/** Every route of the server, in the order the docs list them. */
export function allRoutes(deps: PaymentDeps): RouteDef[] {
  const ctx = deps.ctx;
  // Four eyes: route modules register the kinds of change they propose; approval runs them.
  const proposals = new Proposals(ctx);
  const payouts = deps.payouts ?? createPayoutDeps(ctx, null);
  const routes: RouteDef[] = [
    ...openAgreementRoutes(deps),
    ...openPaymentRoutes(deps),
    ...openBalanceRoutes(ctx),
    ...openCampaignRoutes(deps),
    ...hostedSigningRoutes(deps),
    ...openSettlementRoutes(ctx),
    ...openPayoutRoutes(payouts),
    ...adminMerchantRoutes(ctx, proposals),
    ...adminChannelRoutes(deps, proposals),
    ...adminLedgerRoutes(ctx, proposals, payouts),
    ...adminSettlementRunRoutes(ctx),
    ...adminReconciliationRoutes(deps, proposals),
    ...adminProposalRoutes(proposals),
    ...adminRailRoutes(payouts, proposals),
    ...adminPaymentRoutes(deps),
    ...adminAgreementRoutes(ctx),
    ...adminPaymentHistoryRoutes(ctx),
    ...adminRiskRoutes(ctx),
    ...adminStatsRoutes(ctx),
    ...adminOperatorRoutes(ctx),
    ...adminEventRoutes(ctx),
    ...railCallbackRoutes(payouts),
    ...callbackRoutes(deps),
    ...healthRoutes(ctx),
  ];
  // The console asks what its token may do; the answer is read off this very table.
  routes.push(adminSessionRoute(() => routes, proposals));
  return routes;
}
