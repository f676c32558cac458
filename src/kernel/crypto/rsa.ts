import {
  X509Certificate,
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  sign,
  verify,
} from "node:crypto";
import { assert } from "../assert.ts";

/**
 * RSA as UnionPay-style networks use it: RSA-SHA256 (PKCS#1 v1.5) signatures, X.509 certificates
 * whose serial number names the key in every message (`certId`), and public-key encryption of
 * sensitive fields. Encryption uses OAEP with SHA-256: Node 20 refuses PKCS#1 v1.5 decryption
 * (CVE-2023-46809), and OAEP is the safer choice anyway.
 */
export const RSA_KEY_BITS = 2048;
const OID_SHA256_WITH_RSA = "1.2.840.113549.1.1.11";
const OID_COMMON_NAME = "2.5.4.3";
const OID_ORGANIZATION = "2.5.4.10";
const SERIAL_BYTES = 8;

export interface RsaKeyPair {
  private_key_pem: string;
  public_key_pem: string;
}

export function generateRsaKeyPair(bits = RSA_KEY_BITS): RsaKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: bits });
  return {
    private_key_pem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    public_key_pem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

// --- a minimal DER writer, enough for one self-signed certificate ---

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));

function derUnsigned(value: bigint): Buffer {
  assert(value >= 0n, "DER integer must not be negative");
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  let bytes = Buffer.from(hex, "hex");
  if ((bytes[0]! & 0x80) !== 0) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

function derOid(oid: string): Buffer {
  const arcs = oid.split(".").map(Number);
  const out: number[] = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift((n & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function derTime(at: Date): Buffer {
  const iso = at.toISOString().replace(/[-:T]/g, "").slice(0, 14); // YYYYMMDDHHMMSS
  return at.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

function derName(common_name: string, organization: string): Buffer {
  const attribute = (oid: string, value: string) => set(seq(derOid(oid), tlv(0x0c, Buffer.from(value, "utf8"))));
  return seq(attribute(OID_ORGANIZATION, organization), attribute(OID_COMMON_NAME, common_name));
}

export interface CertificateRequest {
  keys: RsaKeyPair;
  common_name: string;
  organization: string;
  not_before: Date;
  not_after: Date;
  /** Positive; random 64 bits when omitted. */
  serial?: bigint;
}

/** A self-signed X.509 v3 certificate (sha256WithRSAEncryption), PEM. */
export function createSelfSignedCertificate(request: CertificateRequest): string {
  const serial = request.serial ?? BigInt(`0x${randomBytes(SERIAL_BYTES).toString("hex")}`) | 1n;
  assert(serial > 0n, "certificate serial must be positive");
  assert(request.not_after > request.not_before, "certificate validity is empty");
  const algorithm = seq(derOid(OID_SHA256_WITH_RSA), Buffer.from([0x05, 0x00]));
  const name = derName(request.common_name, request.organization);
  const spki = createPublicKey(request.keys.public_key_pem).export({ type: "spki", format: "der" });
  const tbs = seq(
    tlv(0xa0, derUnsigned(2n)),
    derUnsigned(serial),
    algorithm,
    name,
    seq(derTime(request.not_before), derTime(request.not_after)),
    name,
    spki,
  );
  const signature = sign("sha256", tbs, createPrivateKey(request.keys.private_key_pem));
  const der = seq(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const body = der.toString("base64").replace(/(.{64})/g, "$1\n").trimEnd();
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}

/** The certificate serial as a decimal string: UnionPay's `certId`. */
export function certificateSerial(certificate_pem: string): string {
  return BigInt(`0x${new X509Certificate(certificate_pem).serialNumber}`).toString(10);
}

export function rsaSha256Sign(data: string | Uint8Array, private_key_pem: string): Buffer {
  return sign("sha256", typeof data === "string" ? Buffer.from(data, "utf8") : data, private_key_pem);
}

/** `key_pem` is a certificate or a public key. False on any bad input, never throws. */
export function rsaSha256Verify(data: string | Uint8Array, signature: Uint8Array, key_pem: string): boolean {
  try {
    const key = key_pem.includes("CERTIFICATE") ? new X509Certificate(key_pem).publicKey : createPublicKey(key_pem);
    return verify("sha256", typeof data === "string" ? Buffer.from(data, "utf8") : data, key, signature);
  } catch {
    return false;
  }
}

export function rsaOaepEncrypt(plaintext: Uint8Array, key_pem: string): Buffer {
  const key = key_pem.includes("CERTIFICATE") ? new X509Certificate(key_pem).publicKey : createPublicKey(key_pem);
  return publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, plaintext);
}

/** Throws on a wrong key or damaged ciphertext. */
export function rsaOaepDecrypt(ciphertext: Uint8Array, private_key_pem: string): Buffer {
  return privateDecrypt({ key: private_key_pem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, ciphertext);
}
