import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { maskText, redact } from "./mask.ts";

describe("masking", () => {
  it("masks any 13–19 digit card number, 18-character ID number and mobile phone inside text (property)", () => {
    const digits = (n: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((d) => d.join(""));
    const card = fc.integer({ min: 13, max: 19 }).chain(digits);
    const id = fc.tuple(digits(17), fc.constantFrom("0", "5", "X")).map(([a, b]) => a + b);
    const phone = fc.tuple(fc.integer({ min: 3, max: 9 }), digits(9)).map(([a, b]) => `1${a}${b}`);
    fc.assert(
      fc.property(fc.oneof(card, id, phone), fc.string({ maxLength: 10 }).map((s) => s.replace(/\d/g, "")), (secret, around) => {
        const out = maskText(`${around} ${secret} ${around}`);
        expect(out).not.toContain(secret);
      }),
      { numRuns: 500, seed: 42 },
    );
  });

  it("keeps first six and last four of a card number", () => {
    expect(maskText("card 6222021234567890123 ok")).toBe("card 622202******0123 ok");
  });

  it("redacts sensitive keys at any depth", () => {
    expect(redact({ a: { secret: "s", card_number: "1", ok: "fine" }, list: [{ otp: "123456" }] })).toEqual({
      a: { secret: "[redacted]", card_number: "[redacted]", ok: "fine" },
      list: [{ otp: "[redacted]" }],
    });
  });
});
