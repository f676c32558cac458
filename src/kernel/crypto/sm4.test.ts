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

  it("rejects a wrong key or a damaged ciphertext", () => {
    const sealed = sm4CbcEncrypt(newSm4Key(), Buffer.from("secret"));
    expect(() => sm4CbcDecrypt(newSm4Key(), sealed)).toThrow();
    expect(() => sm4CbcDecrypt(newSm4Key(), sealed.subarray(0, 20))).toThrow();
  });
});
