import { RAILS, type Rail } from "../kernel/cnaps/hours.ts";
import { SANDBOX_LIMITS, CapacityError } from "./limits.ts";
import { DECLINE_REASONS, type DeclineReason, type NetworkId, type Operation } from "./model.ts";
import type { ForcedDecline } from "./engine.ts";
import { Rng } from "./rng.ts";

export const FAULT_KINDS = ["latency", "timeout", "unknown", "decline", "duplicate_notify"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRule {
  fault_id: string;
  /** A network, a CNAPS rail (named only: `*` means every network, not the rails), or `*`. */
  channel: NetworkId | Rail | "*";
  operation: Operation | "*";
  kind: FaultKind;
  rate: number;
  latency_ms: number;
  decline_code: string | null;
  seed: number;
}

/** What the faults decided for one call. */
export interface FaultPlan {
  latency_ms: number;
  timeout: boolean;
  unknown: boolean;
  decline: ForcedDecline;
  duplicate_notify: boolean;
}

export const NO_FAULTS: FaultPlan = { latency_ms: 0, timeout: false, unknown: false, decline: null, duplicate_notify: false };

/**
 * Fault rules. Each rule draws from its own stream seeded by its `seed`, once per matching call,
 * so a given sequence of calls meets the same faults on every run.
 */
export class Faults {
  private rules: { rule: FaultRule; rng: Rng }[] = [];
  private counter = 0;

  add(rule: Omit<FaultRule, "fault_id">): FaultRule {
    if (this.rules.length >= SANDBOX_LIMITS.fault_rules_max) throw new CapacityError("fault rules");
    this.counter += 1;
    const full: FaultRule = { ...rule, fault_id: `flt_${this.counter}` };
    this.rules.push({ rule: full, rng: new Rng(rule.seed) });
    return full;
  }

  list(): FaultRule[] {
    return this.rules.map((r) => r.rule);
  }

  clear(): void {
    this.rules = [];
  }

  plan(channel: NetworkId | Rail, operation: Operation): FaultPlan {
    const plan: FaultPlan = { ...NO_FAULTS };
    const is_rail = (RAILS as readonly string[]).includes(channel);
    for (const { rule, rng } of this.rules) {
      if (rule.channel === "*" ? is_rail : rule.channel !== channel) continue;
      if (rule.operation !== "*" && rule.operation !== operation) continue;
      if (!(rng.next() < rule.rate)) continue;
      apply(plan, rule);
    }
    return plan;
  }
}

function apply(plan: FaultPlan, rule: FaultRule): void {
  switch (rule.kind) {
    case "latency":
      plan.latency_ms = Math.min(plan.latency_ms + rule.latency_ms, SANDBOX_LIMITS.fault_latency_ms_max);
      return;
    case "timeout":
      plan.timeout = true;
      return;
    case "unknown":
      plan.unknown = true;
      return;
    case "decline":
      plan.decline ??= toForcedDecline(rule.decline_code);
      return;
    case "duplicate_notify":
      plan.duplicate_notify = true;
      return;
  }
}

/** A known reason becomes that network's own code; anything else is answered verbatim. */
function toForcedDecline(code: string | null): NonNullable<ForcedDecline> {
  if (code === null) return { reason: "bank_declined", raw_code: null };
  const known = (DECLINE_REASONS as readonly string[]).includes(code);
  return known ? { reason: code as DeclineReason, raw_code: null } : { reason: "bank_declined", raw_code: code };
}
