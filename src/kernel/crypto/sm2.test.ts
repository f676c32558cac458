import smCrypto from "sm-crypto";
import { describe, expect, it } from "vitest";
import {
  SM2_DEFAULT_USER_ID,
  decodeDerSignature,
  generateSm2KeyPair,
  sm2Decrypt,
  sm2Encrypt,
  sm2PublicKeyFromPrivate,
  sm2Sign,
  sm2Verify,
} from "./sm2.ts";

const { sm2 } = smCrypto;
const USER_ID = "1234567812345678";

describe("SM2", () => {
  it("uses the standard default user ID", () => {
    expect(SM2_DEFAULT_USER_ID).toBe(USER_ID);
  });

  it("derives the same public key as sm-crypto", () => {
    const theirs = sm2.generateKeyPairHex();
    expect(sm2PublicKeyFromPrivate(theirs.privateKey)).toBe(theirs.publicKey);
  });

  it("signs so that sm-crypto verifies (user ID 1234567812345678)", () => {
    for (let i = 0; i < 5; i++) {
      const keys = generateSm2KeyPair();
      const message = `<Msg>支付 ${i}</Msg>`;
      const signature = sm2Sign(message, keys.private_key_hex, { user_id: USER_ID }).toString("hex");
      expect(sm2.doVerifySignature(message, signature, keys.public_key_hex, { der: true, hash: true, userId: USER_ID })).toBe(true);
      expect(sm2.doVerifySignature(`${message}x`, signature, keys.public_key_hex, { der: true, hash: true, userId: USER_ID })).toBe(false);
    }
  });

  it("signs message after message with one key (nonces drawn in batches) so that sm-crypto verifies each, never reusing r", () => {
    const keys = generateSm2KeyPair();
    const other = generateSm2KeyPair();
    const rs = new Set<string>();
    for (let i = 0; i < 40; i++) {
      // Another key in between: the last-key shortcut must not sign with the wrong key.
      const key = i % 7 === 3 ? other : keys;
      const message = `<Msg>支付 ${i}</Msg>`;
      const signature = sm2Sign(message, key.private_key_hex);
      expect(sm2.doVerifySignature(message, signature.toString("hex"), key.public_key_hex, { der: true, hash: true, userId: USER_ID }), `signature ${i}`).toBe(true);
      const decoded = decodeDerSignature(signature);
      expect(decoded).not.toBeNull();
      rs.add(decoded!.r.toString(16));
    }
    expect(rs.size).toBe(40);
  });

  it("verifies what sm-crypto signs, and rejects it under another user ID or message", () => {
    for (let i = 0; i < 5; i++) {
      const theirs = sm2.generateKeyPairHex();
      const message = `amount=${i}00&card=6222`;
      const signature = sm2.doSignature(message, theirs.privateKey, { der: true, hash: true, publicKey: theirs.publicKey, userId: USER_ID });
      const der = Buffer.from(signature, "hex");
      expect(sm2Verify(message, der, theirs.publicKey)).toBe(true);
      expect(sm2Verify(message, der, theirs.publicKey, { user_id: "ALICE123@YAHOO.COM" })).toBe(false);
      expect(sm2Verify(`${message}0`, der, theirs.publicKey)).toBe(false);
    }
  });

  it("rejects malformed signatures and keys without throwing", () => {
    const keys = generateSm2KeyPair();
    const signature = sm2Sign("m", keys.private_key_hex);
    const flipped = Buffer.from(signature);
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 1) ^ 1, flipped.length - 1);
    expect(sm2Verify("m", flipped, keys.public_key_hex)).toBe(false);
    expect(sm2Verify("m", Buffer.alloc(0), keys.public_key_hex)).toBe(false);
    expect(sm2Verify("m", Buffer.concat([signature, Buffer.from([0])]), keys.public_key_hex)).toBe(false);
    expect(sm2Verify("m", signature, "04" + "00".repeat(64))).toBe(false);
    expect(sm2Verify("m", signature, generateSm2KeyPair().public_key_hex)).toBe(false);
    expect(decodeDerSignature(signature)).not.toBeNull();
  });

  it("encrypts so that sm-crypto decrypts (C1C3C2), and the reverse", () => {
    const theirs = sm2.generateKeyPairHex();
    const mine = generateSm2KeyPair();
    const key = Buffer.from("00112233445566778899aabbccddeeff", "hex");
    const sealed = sm2Encrypt(key, theirs.publicKey);
    // sm-crypto writes and reads C1 without the 04 prefix.
    const plain = sm2.doDecrypt(sealed.subarray(1).toString("hex"), theirs.privateKey, 1, { output: "array" });
    expect(Buffer.from(plain as unknown as number[]).toString("hex")).toBe(key.toString("hex"));
    const from_them = sm2.doEncrypt(Array.from(key), mine.public_key_hex, 1);
    expect(sm2Decrypt(Buffer.from(`04${from_them}`, "hex"), mine.private_key_hex).toString("hex")).toBe(key.toString("hex"));
  });

  it("round-trips encryption and rejects a tampered ciphertext or a wrong key", () => {
    const keys = generateSm2KeyPair();
    for (const length of [1, 16, 33, 100]) {
      const plain = Buffer.alloc(length, 7);
      const sealed = sm2Encrypt(plain, keys.public_key_hex);
      expect(sm2Decrypt(sealed, keys.private_key_hex).equals(plain)).toBe(true);
      const tampered = Buffer.from(sealed);
      tampered.writeUInt8(tampered.readUInt8(tampered.length - 1) ^ 1, tampered.length - 1);
      expect(() => sm2Decrypt(tampered, keys.private_key_hex)).toThrow();
      expect(() => sm2Decrypt(sealed, generateSm2KeyPair().private_key_hex)).toThrow();
    }
  });
});
