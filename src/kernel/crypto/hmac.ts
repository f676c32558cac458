import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export function hmacSha256Base64(secret: string, message: string | Buffer): string {
  return createHmac("sha256", Buffer.from(secret, "utf8")).update(message).digest("base64");
}

export function hmacSha256Hex(key: Buffer, message: string | Buffer): string {
  return createHmac("sha256", key).update(message).digest("hex");
}

export function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Constant-time comparison of two strings (false when lengths differ). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  if (x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}

export function randomToken(prefix: string, bytes = 32): string {
  return `${prefix}${randomBytes(bytes).toString("base64url")}`;
}
