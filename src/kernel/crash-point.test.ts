import { describe, expect, it } from "vitest";
import { CRASH_POINTS, crashPoint, crashPointSetting } from "./crash-point.ts";

describe("crash points (a test facility)", () => {
  it("reads PAYCORE_CRASH_POINT: unset or empty is none, a known name is that point, anything else stops the caller", () => {
    expect(crashPointSetting({})).toBeNull();
    expect(crashPointSetting({ PAYCORE_CRASH_POINT: "" })).toBeNull();
    for (const point of CRASH_POINTS) expect(crashPointSetting({ PAYCORE_CRASH_POINT: point })).toBe(point);
    expect(() => crashPointSetting({ PAYCORE_CRASH_POINT: "payout_after_sned" })).toThrow(/PAYCORE_CRASH_POINT: unknown point "payout_after_sned"/);
  });

  it("does nothing when the variable names no point or another one (the kill itself: test/reliability/payout-crash.test.ts)", () => {
    expect(process.env.PAYCORE_CRASH_POINT).toBeUndefined();
    for (const point of CRASH_POINTS) crashPoint(point);
    process.env.PAYCORE_CRASH_POINT = "payout_after_send";
    try {
      crashPoint("payout_after_intent");
      crashPoint("payout_before_outcome_commit");
    } finally {
      delete process.env.PAYCORE_CRASH_POINT;
    }
    expect(process.exitCode ?? 0).toBe(0);
  });
});
