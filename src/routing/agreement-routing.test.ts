import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { networkFeeFen } from "../kernel/money.ts";
import { NETWORK_FEES } from "../sandbox/engine.ts";
import { channelCostFen, routePayment, routeSigning, type ChannelView } from "./agreement-routing.ts";

const ch = (id: string, over: Partial<ChannelView> = {}): ChannelView => ({
  channel_id: id,
  enabled: true,
  healthy: true,
  unified_network: id !== "unionpay_quickpay",
  legacy: id === "unionpay_quickpay",
  cost_bps: 10,
  cost_fixed_fen: 0n,
  priority: 1,
  banks: null,
  ...over,
});
const NU = "netsunion";
const UP = "unionpay_nocard";
const QP = "unionpay_quickpay";

describe("agreement routing", () => {
  it("pays where the card is signed, even when another network is cheaper", () => {
    const r = routePayment([ch(NU, { cost_bps: 30 }), ch(UP, { cost_bps: 5 })], { bank_code: "ICBC", bank_unified: true, agreements: [{ channel_id: NU, card_agreement_id: "cag_1" }] }, 10_000n);
    expect(r).toMatchObject({ kind: "use", channel_id: NU, card_agreement_id: "cag_1" });
  });

  it("among networks holding an agreement, picks the cheapest for the amount", () => {
    const channels = [ch(NU, { cost_bps: 10, cost_fixed_fen: 0n }), ch(UP, { cost_bps: 0, cost_fixed_fen: 50n })];
    const card = { bank_code: "ICBC", bank_unified: true, agreements: [{ channel_id: NU, card_agreement_id: "a" }, { channel_id: UP, card_agreement_id: "b" }] };
    expect(routePayment(channels, card, 10_000n)).toMatchObject({ channel_id: NU }); // 10 fen vs 50
    expect(routePayment(channels, card, 1_000_000n)).toMatchObject({ channel_id: UP }); // 1000 fen vs 50
  });

  it("syncs to the other unified network when the signing network is down and the bank is unified", () => {
    const r = routePayment([ch(NU, { enabled: false }), ch(UP)], { bank_code: "ICBC", bank_unified: true, agreements: [{ channel_id: NU, card_agreement_id: "a" }] }, 100n);
    expect(r).toMatchObject({ kind: "sync", from_channel_id: NU, channel_id: UP });
    expect(r.reason).toContain("netsunion disabled");
  });

  it("asks for a re-sign when the bank is not unified and the card's network is switched off", () => {
    const r = routePayment([ch(NU, { enabled: false }), ch(UP)], { bank_code: "CIB", bank_unified: false, agreements: [{ channel_id: NU, card_agreement_id: "a" }] }, 100n);
    expect(r.kind).toBe("resign_required");
    expect(r.reason).toContain("CIB is not in the unified registries");
  });

  it("answers unavailable, never a re-sign, while the card's only network is merely unhealthy", () => {
    const r = routePayment([ch(NU, { healthy: false }), ch(UP)], { bank_code: "CIB", bank_unified: false, agreements: [{ channel_id: NU, card_agreement_id: "a" }] }, 100n);
    expect(r.kind).toBe("unavailable");
    expect(r.reason).toContain("retry when netsunion recovers");
    const legacy = routePayment([ch(QP, { healthy: false }), ch(NU), ch(UP)], { bank_code: "ICBC", bank_unified: true, agreements: [{ channel_id: QP, card_agreement_id: "q" }] }, 100n);
    expect(legacy.kind).toBe("unavailable");
  });

  it("never carries a legacy quick-pay agreement over, even for a unified bank", () => {
    const r = routePayment([ch(QP, { enabled: false }), ch(NU), ch(UP)], { bank_code: "ICBC", bank_unified: true, agreements: [{ channel_id: QP, card_agreement_id: "q" }] }, 100n);
    expect(r.kind).toBe("resign_required");
    expect(r.reason).toContain("legacy");
  });

  it("signs on the cheapest usable non-legacy network", () => {
    expect(routeSigning([ch(QP, { cost_bps: 0 }), ch(NU, { cost_bps: 20 }), ch(UP, { cost_bps: 10 })], "ICBC")).toMatchObject({ kind: "sign", channel_id: UP });
    expect(routeSigning([ch(NU, { enabled: false }), ch(UP, { banks: ["CCB"] })], "ICBC").kind).toBe("unavailable");
  });

  it("never routes a payment to a disabled or unhealthy network (property)", () => {
    const ids = [NU, UP, QP];
    fc.assert(
      fc.property(
        fc.array(fc.record({ enabled: fc.boolean(), healthy: fc.boolean(), cost_bps: fc.integer({ min: 0, max: 100 }) }), { minLength: 3, maxLength: 3 }),
        fc.subarray(ids),
        fc.boolean(),
        fc.bigInt({ min: 1n, max: 10_000_000n }),
        (states, signed, unified, amount) => {
          const channels = ids.map((id, i) => ch(id, states[i]!));
          const r = routePayment(channels, { bank_code: "ICBC", bank_unified: unified, agreements: signed.map((id) => ({ channel_id: id, card_agreement_id: `cag_${id}` })) }, amount);
          if (r.kind === "use" || r.kind === "sync") {
            const c = channels.find((x) => x.channel_id === r.channel_id)!;
            expect(c.enabled && c.healthy).toBe(true);
          }
          if (r.kind === "use") expect(signed).toContain(r.channel_id);
          if (r.kind === "sync") {
            expect(unified).toBe(true);
            expect(r.channel_id).not.toBe(QP);
          }
          expect(channelCostFen(channels[0]!, amount)).toBeGreaterThanOrEqual(0n);
        },
      ),
      { numRuns: 300, seed: 4 },
    );
  });

  it("estimates a network's cost exactly as the network rounds (half up), the sandbox's networks included", () => {
    // 186.56 yuan: 4 bps is 7.4624 fen, 5 bps 9.328 fen, 6 bps + 10 fen 21.1936 fen.
    expect(channelCostFen(ch(NU, { cost_bps: 4 }), 18_656n)).toBe(7n);
    expect(channelCostFen(ch(UP, { cost_bps: 5 }), 18_656n)).toBe(9n);
    expect(channelCostFen(ch(QP, { cost_bps: 6, cost_fixed_fen: 10n }), 18_656n)).toBe(21n);
    expect(channelCostFen(ch(NU, { cost_bps: 4 }), 1_250n)).toBe(1n); // 0.5 fen: half up
    fc.assert(
      fc.property(fc.constantFrom(...(Object.keys(NETWORK_FEES) as (keyof typeof NETWORK_FEES)[])), fc.bigInt({ min: 1n, max: 10_000_000_00n }), (network, amount) => {
        const fees = NETWORK_FEES[network];
        expect(channelCostFen(ch(network, { cost_bps: fees.bps, cost_fixed_fen: fees.fixed_fen }), amount)).toBe(networkFeeFen(amount, fees.bps, fees.fixed_fen));
      }),
      { numRuns: 300, seed: 5 },
    );
  });
});
