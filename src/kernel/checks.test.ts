import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isCnapsCode, isValidUscc, luhnCheckDigit, luhnValid, residentIdCheckChar, residentIdProblem, usccCheckChar } from "./checks.ts";

describe("unified social credit code (GB 32100-2015)", () => {
  it("accepts codes whose check character is right", () => {
    expect(isValidUscc("91350100M000100Y43")).toBe(true);
    expect(isValidUscc("911100001000054748")).toBe(true);
    expect(isValidUscc("911100001000054749")).toBe(false);
  });
  it("rejects a wrong check character, wrong length and forbidden letters", () => {
    expect(isValidUscc("91350100M000100Y44")).toBe(false);
    expect(isValidUscc("91350100M000100Y4")).toBe(false);
    expect(isValidUscc("91350100M000100YI3")).toBe(false);
  });
  it("accepts every code built with its computed check character, and no other last character", () => {
    const chars = "0123456789ABCDEFGHJKLMNPQRTUWXY".split("");
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...chars), { minLength: 9, maxLength: 9 }), fc.integer({ min: 100000, max: 999999 }), (tail, region) => {
        const first17 = `91${region}${tail.join("")}`;
        const check = usccCheckChar(first17)!;
        expect(isValidUscc(first17 + check)).toBe(true);
        for (const other of chars.filter((c) => c !== check)) expect(isValidUscc(first17 + other)).toBe(false);
      }),
      { numRuns: 50 },
    );
  });
});

describe("resident ID (ISO 7064 MOD 11-2)", () => {
  it("validates check character and birth date", () => {
    expect(residentIdProblem("11010519491231002X")).toBeNull();
    expect(residentIdProblem("110105194912310021")).toBe("check_char");
    expect(residentIdProblem("110105194902300025")).toBe("birth_date");
    expect(residentIdProblem("11010519491231002")).toBe("format");
    expect(residentIdCheckChar("11010519491231002")).toBe("X");
  });
});

describe("Luhn and CNAPS", () => {
  it("computes and checks Luhn digits", () => {
    expect(luhnValid("6222021234567890128")).toBe(luhnValid("622202123456789012" + luhnCheckDigit("622202123456789012")));
    expect(luhnValid("4111111111111111")).toBe(true);
    expect(luhnValid("4111111111111112")).toBe(false);
  });
  it("wants 12 digits for a CNAPS code", () => {
    expect(isCnapsCode("102100099996")).toBe(true);
    expect(isCnapsCode("10210009999")).toBe(false);
    expect(isCnapsCode("10210009999A")).toBe(false);
  });
});
