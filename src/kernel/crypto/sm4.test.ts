import smCrypto from "sm-crypto";
import { describe, expect, it } from "vitest";
import { newSm4Key, sm4CbcDecrypt, sm4CbcEncrypt, sm4DecryptBlock, sm4EncryptBlock } from "./sm4.ts";

const VECTOR_KEY = Buffer.from("0123456789abcdeffedcba9876543210", "hex");

describe("SM4", () => {
  it("matches the GB/T 32907 test vector", () => {
    const out = sm4EncryptBlock(VECTOR_KEY, VECTOR_KEY);
    expect(out.toString("hex")).toBe("681edf34d206965e86b3e94f536e4246");
    expect(sm4DecryptBlock(VECTOR_KEY, out).toString("hex")).toBe(VECTOR_KEY.toString("hex"));
  });

  it("round-trips CBC and interoperates with sm-crypto", () => {
    const key = newSm4Key();
    const text = "6222021234567890123";
    const sealed = sm4CbcEncrypt(key, Buffer.from(text));
    expect(sm4CbcDecrypt(key, sealed).toString()).toBe(text);
    const iv = sealed.subarray(0, 16).toString("hex");
    const theirs = smCrypto.sm4.decrypt(sealed.subarray(16).toString("hex"), key.toString("hex"), { mode: "cbc", iv });
    expect(theirs).toBe(text);
  });

  it("never gives the plaintext for a wrong key, and nearly always refuses it", () => {
    // CBC with PKCS#7 has no integrity: a wrong key passes the padding check about once in 256
    // (a last byte of 0x01), so one wrong key cannot be relied on to throw. Over 400 wrong keys
    // each either throws or gives other bytes, and the padding check refuses nearly all of them
    // (fewer than 380 refusals has a chance far below 1e-20).
    const plaintext = Buffer.from("secret");
    const sealed = sm4CbcEncrypt(newSm4Key(), plaintext);
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      try {
        expect(sm4CbcDecrypt(newSm4Key(), sealed).equals(plaintext)).toBe(false);
      } catch (err) {
        if (!(err instanceof Error) || !/bad decrypt/i.test(err.message)) throw err;
        refused++;
      }
    }
    expect(refused).toBeGreaterThanOrEqual(380);
  });

  it("rejects a ciphertext of a bad length", () => {
    const sealed = sm4CbcEncrypt(newSm4Key(), Buffer.from("secret"));
    expect(() => sm4CbcDecrypt(newSm4Key(), sealed.subarray(0, 20))).toThrow(/bad length/);
  });
});
