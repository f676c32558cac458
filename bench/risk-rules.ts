/**
 * The twenty rules of the risk bench (bench/risk.ts) and of the payments bench under
 * BENCH_RISK_RULES (bench/payments-risk.ts): card, ID holder and merchant ID scopes; velocity,
 * amount and first-payment caps; enforce-reject on card and ID holder (those scopes take their
 * locks), review, and three shadow rules that fire on every payment; 14 distinct windows.
 */
/** Twenty rules that all apply and none reject (the normal path: everything counted, nothing fires). */
export const TWENTY_RULES: Record<string, unknown>[] = [
  ...[600, 3_600, 86_400, 7 * 86_400].map((w) => ({ kind: "velocity", scope: "card", max_count: 100_000, window_seconds: w, action: "reject" })),
  ...[3_600, 86_400, 30 * 86_400].map((w) => ({ kind: "amount", scope: "card", max_amount: 1e12, window_seconds: w, action: "reject" })),
  { kind: "first_payment", scope: "card", max_amount: 1e12, window_seconds: 86_400, action: "reject" },
  ...[3_600, 86_400, 7 * 86_400].map((w) => ({ kind: "velocity", scope: "id_holder", max_count: 100_000, window_seconds: w, action: "reject" })),
  ...[86_400, 30 * 86_400].map((w) => ({ kind: "amount", scope: "id_holder", max_amount: 1e12, window_seconds: w, action: "review" })),
  ...[60, 3_600].map((w) => ({ kind: "velocity", scope: "merchant", max_count: 1_000_000, window_seconds: w, action: "review" })),
  { kind: "amount", scope: "merchant", max_amount: 1e12, window_seconds: 86_400, action: "review" },
  { kind: "velocity", scope: "card", max_count: 1, window_seconds: 60, action: "reject", mode: "shadow" },
  { kind: "amount", scope: "id_holder", max_amount: 100, window_seconds: 86_400, action: "reject", mode: "shadow" },
  { kind: "velocity", scope: "merchant", max_count: 5, window_seconds: 86_400, action: "review", mode: "shadow" },
  { kind: "amount", scope: "merchant", max_amount: 1e12, window_seconds: 7 * 86_400, action: "review" },
];
