import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  certificateSerial,
  createSelfSignedCertificate,
  generateRsaKeyPair,
  rsaOaepDecrypt,
  rsaOaepEncrypt,
  rsaSha256Sign,
  rsaSha256Verify,
} from "./rsa.ts";

const keys = generateRsaKeyPair();
const other = generateRsaKeyPair();
const certificate = createSelfSignedCertificate({
  keys,
  common_name: "paycore test",
  organization: "测试支付",
  not_before: new Date("2024-01-01T00:00:00Z"),
  not_after: new Date("2054-01-01T00:00:00Z"),
  serial: 69026747705n,
});

describe("RSA", () => {
  it("makes a self-signed certificate that X509Certificate parses and that verifies itself", () => {
    const x509 = new X509Certificate(certificate);
    expect(x509.subject).toContain("CN=paycore test");
    expect(x509.checkIssued(x509)).toBe(true);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(new Date(x509.validTo).getUTCFullYear()).toBe(2054);
    expect(certificateSerial(certificate)).toBe("69026747705");
  });

  it("signs with RSA-SHA256 and verifies with the certificate or the public key", () => {
    const signature = rsaSha256Sign("txnAmt=100", keys.private_key_pem);
    expect(rsaSha256Verify("txnAmt=100", signature, certificate)).toBe(true);
    expect(rsaSha256Verify("txnAmt=100", signature, keys.public_key_pem)).toBe(true);
    expect(rsaSha256Verify("txnAmt=101", signature, certificate)).toBe(false);
    expect(rsaSha256Verify("txnAmt=100", signature, other.public_key_pem)).toBe(false);
    expect(rsaSha256Verify("txnAmt=100", Buffer.from("junk"), "not a key")).toBe(false);
  });

  it("encrypts with OAEP and decrypts only with the right key", () => {
    const sealed = rsaOaepEncrypt(Buffer.from("6222021234567890123"), certificate);
    expect(rsaOaepDecrypt(sealed, keys.private_key_pem).toString()).toBe("6222021234567890123");
    expect(() => rsaOaepDecrypt(sealed, other.private_key_pem)).toThrow();
  });
});
