import { describe, expect, it } from "vitest";
import { newId } from "./ids.ts";

describe("newId", () => {
  it("answers distinct, well-formed ids that sort in creation order, across refills of the random pool", () => {
    const at_ms = Date.UTC(2026, 11, 2, 12, 0, 0);
    const ids: string[] = [];
    // 1,000 ids span several refills of the 4,096-byte pool (16 bytes an id); half share a millisecond.
    for (let i = 0; i < 1_000; i++) ids.push(newId("pay", at_ms + Math.floor(i / 2)));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^pay_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect([...ids].sort()).toEqual(ids);
  });
});
