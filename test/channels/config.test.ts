import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { channelToWire, getChannel, listChannels, updateChannel } from "../../src/channels/index.ts";
import { PaycoreError } from "../../src/kernel/errors.ts";
import { createTestDatabase } from "../support/db.ts";

describe("channel configuration", () => {
  let h: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    h = await createTestDatabase("channels");
  });
  afterAll(async () => h.drop());

  it("seeds the three agreement networks enabled and the payout rails disabled", async () => {
    const channels = await listChannels(h.db);
    const by_id = new Map(channels.map((c) => [c.channel_id, c]));
    expect([...by_id.keys()].sort()).toEqual(["bank_direct", "beps", "hvps", "ibps", "netsunion", "unionpay_nocard", "unionpay_quickpay"]);
    for (const id of ["netsunion", "unionpay_nocard", "unionpay_quickpay"] as const) {
      expect(by_id.get(id)).toMatchObject({ kind: "agreement", enabled: true, endpoint_url: null });
    }
    for (const id of ["hvps", "beps", "ibps", "bank_direct"] as const) expect(by_id.get(id)).toMatchObject({ kind: "payout", enabled: false });
    expect(by_id.get("unionpay_quickpay")).toMatchObject({ legacy: true, unified_network: false, cost_fixed_fen: 10n });
    expect(by_id.get("netsunion")).toMatchObject({ legacy: false, unified_network: true, cost_bps: 4, cost_fixed_fen: 0n });
    expect(by_id.get("netsunion")!.keys.network_public).toBe("keys/netsunion.sm2.json");
  });

  it("updates costs, priority, enabled and bumps the version; money stays bigint", async () => {
    const before = await getChannel(h.db, "unionpay_nocard");
    const after = await updateChannel(h.db, "unionpay_nocard", { enabled: false, cost_bps: 7, cost_fixed_fen: 3, priority: 5 });
    expect(after).toMatchObject({ enabled: false, cost_bps: 7, cost_fixed_fen: 3n, priority: 5, version: before.version + 1 });
    expect(await getChannel(h.db, "unionpay_nocard")).toEqual(after);
    expect(channelToWire(after)).toMatchObject({ cost_fixed_fen: 3, enabled: false });
    const big = await updateChannel(h.db, "unionpay_nocard", { cost_fixed_fen: 9_000_000n, banks: ["ICBC", "CCB"], endpoint_url: "https://up.example/gw" });
    expect(big).toMatchObject({ cost_fixed_fen: 9_000_000n, banks: ["ICBC", "CCB"], endpoint_url: "https://up.example/gw" });
    expect(await updateChannel(h.db, "unionpay_nocard", {})).toEqual(big);
  });

  it("refuses bad patches with invalid_request naming the field, and unknown ids with not_found", async () => {
    const cases: [unknown, string][] = [
      [{ cost_bps: 10_001 }, "cost_bps"],
      [{ cost_fixed_fen: -1 }, "cost_fixed_fen"],
      [{ cost_fixed_fen: 1.5 }, "cost_fixed_fen"],
      [{ priority: "high" }, "priority"],
      [{ endpoint_url: "ftp://x" }, "endpoint_url"],
      [{ institution_id: "other" }, "body"],
      [null, "body"],
    ];
    for (const [patch, field] of cases) {
      const error = await updateChannel(h.db, "netsunion", patch).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PaycoreError);
      expect((error as PaycoreError).code).toBe("invalid_request");
      expect((error as PaycoreError).field).toBe(field);
    }
    await expect(updateChannel(h.db, "swift", { enabled: true })).rejects.toMatchObject({ code: "not_found" });
    await expect(getChannel(h.db, "swift")).rejects.toMatchObject({ code: "not_found" });
  });
});
