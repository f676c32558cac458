import smCrypto from "sm-crypto";
import { describe, expect, it } from "vitest";
import { sm3Hex } from "./sm3.ts";

describe("SM3", () => {
  it("matches the GB/T 32905 test vectors", () => {
    expect(sm3Hex("abc")).toBe("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
    expect(sm3Hex("abcd".repeat(16))).toBe("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
  });

  it("agrees with sm-crypto on assorted inputs", () => {
    for (const text of ["", "支付", "x".repeat(1000), "0123456789"]) {
      expect(sm3Hex(text)).toBe(smCrypto.sm3(text));
    }
  });
});
