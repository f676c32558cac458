import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { assert } from "../assert.ts";
import { hmacSha256Hex } from "./hmac.ts";

const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encryption at rest: AES-256-GCM under the master key, with associated data that binds a
 * ciphertext to the row it belongs to (a ciphertext copied to another row does not decrypt).
 * Format: `v1.<base64url(iv | tag | ciphertext)>`.
 */
export class SecretBox {
  private readonly key: Buffer;
  private readonly fingerprint_key: Buffer;

  constructor(master_key: Buffer) {
    assert(master_key.length === 32, "master key must be 32 bytes");
    // Separate keys for encryption and fingerprints, derived from the master key.
    this.key = Buffer.from(hmacSha256Hex(master_key, "paycore/secretbox/v1"), "hex");
    this.fingerprint_key = Buffer.from(hmacSha256Hex(master_key, "paycore/fingerprint/v1"), "hex");
  }

  seal(plaintext: string, associated_data: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(associated_data, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url")}`;
  }

  open(sealed: string, associated_data: string): string {
    const [version, payload] = sealed.split(".");
    assert(version === VERSION && payload !== undefined, "unknown sealed-secret format");
    const raw = Buffer.from(payload, "base64url");
    assert(raw.length >= IV_BYTES + TAG_BYTES, "sealed secret too short");
    const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(associated_data, "utf8"));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
  }

  /** A keyed fingerprint: finds equal values (the same card) without decrypting anything. */
  fingerprint(kind: string, value: string): string {
    return hmacSha256Hex(this.fingerprint_key, `${kind}\n${value}`);
  }
}
