import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { certificateSerial, createSelfSignedCertificate, generateRsaKeyPair } from "../kernel/crypto/rsa.ts";
import { generateSm2KeyPair, parseSm2PublicKey, sm2KeyId } from "../kernel/crypto/sm2.ts";
import { WatchedKeyFile } from "../kernel/key-file.ts";

/**
 * Key exchange through files, as a PI and a network exchange certificates out of band.
 * `<data_dir>/keys/` holds public material only (both sides write theirs there and read the
 * other's); each side's private keys stay in its own directory, readable by the owner only.
 * The file names are part of the contract with `src/channels` (see docs/sandbox.md).
 */
export const EXCHANGE_FILES = {
  netsunion_network: "netsunion.sm2.json",
  unionpay_network: "unionpay.cert.pem",
  netsunion_paycore: "paycore-netsunion.sm2.json",
  unionpay_paycore: "paycore-unionpay.cert.pem",
} as const;

const PRIVATE_FILES = { netsunion: "netsunion.sm2.key.json", unionpay: "unionpay.rsa.key.pem" } as const;
const CERT_VALIDITY_YEARS = 10;

export interface Sm2Identity {
  key_id: string;
  private_key_hex: string;
  public_key_hex: string;
}

export interface RsaIdentity {
  cert_id: string;
  certificate_pem: string;
  private_key_pem: string;
}

export interface NetworkKeys {
  netsunion: Sm2Identity;
  unionpay: RsaIdentity;
}

function writePrivate(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Loads the networks' keys, creating them (and publishing the public halves) at first start. */
export function loadOrCreateNetworkKeys(data_dir: string, now: Date): NetworkKeys {
  const private_dir = join(data_dir, "sandbox", "keys");
  const exchange_dir = join(data_dir, "keys");
  mkdirSync(exchange_dir, { recursive: true });
  mkdirSync(join(data_dir, "sandbox"), { recursive: true });
  mkdirSync(private_dir, { recursive: true, mode: 0o700 });
  const sm2_path = join(private_dir, PRIVATE_FILES.netsunion);
  if (!existsSync(sm2_path)) writePrivate(sm2_path, JSON.stringify(generateSm2KeyPair()));
  const sm2 = JSON.parse(readFileSync(sm2_path, "utf8")) as { private_key_hex: string; public_key_hex: string };
  parseSm2PublicKey(sm2.public_key_hex);
  const netsunion: Sm2Identity = { key_id: sm2KeyId(sm2.public_key_hex), ...sm2 };
  writeFileSync(join(exchange_dir, EXCHANGE_FILES.netsunion_network), JSON.stringify({ key_id: netsunion.key_id, public_key_hex: netsunion.public_key_hex }));

  const rsa_path = join(private_dir, PRIVATE_FILES.unionpay);
  const cert_path = join(private_dir, "unionpay.cert.pem");
  if (!existsSync(rsa_path) || !existsSync(cert_path)) {
    const keys = generateRsaKeyPair();
    const not_after = new Date(now);
    not_after.setUTCFullYear(not_after.getUTCFullYear() + CERT_VALIDITY_YEARS);
    const certificate = createSelfSignedCertificate({ keys, common_name: "UnionPay sandbox", organization: "paycore sandbox", not_before: new Date(now.getTime() - 86_400_000), not_after });
    writePrivate(rsa_path, keys.private_key_pem);
    writeFileSync(cert_path, certificate);
  }
  const certificate_pem = readFileSync(cert_path, "utf8");
  writeFileSync(join(exchange_dir, EXCHANGE_FILES.unionpay_network), certificate_pem);
  return { netsunion, unionpay: { cert_id: certificateSerial(certificate_pem), certificate_pem, private_key_pem: readFileSync(rsa_path, "utf8") } };
}

/**
 * paycore's public keys, read from the exchange directory when needed (paycore may start, or
 * rotate its keys, after the sandbox). Given the key id a message names, the file is looked at
 * again only when the id differs from the known key (a rotation) or the last look is older than
 * KEY_FILE_RECHECK_MS; without one (the CNAPS gateway), at every call (src/kernel/key-file.ts).
 */
export class PeerKeys {
  private readonly netsunion_file: WatchedKeyFile<{ key_id: string; public_key_hex: string }>;
  private readonly unionpay_file: WatchedKeyFile<{ cert_id: string; certificate_pem: string }>;

  constructor(data_dir: string) {
    this.netsunion_file = new WatchedKeyFile(join(data_dir, "keys", EXCHANGE_FILES.netsunion_paycore), parseSm2KeyFile, (k) => k.key_id);
    this.unionpay_file = new WatchedKeyFile(join(data_dir, "keys", EXCHANGE_FILES.unionpay_paycore), (text) => ({ cert_id: certificateSerial(text), certificate_pem: text }), (k) => k.cert_id);
  }

  netsunion(key_id?: string): { key_id: string; public_key_hex: string } | null {
    return this.netsunion_file.get(key_id === undefined ? "fresh" : { key_id });
  }

  unionpay(cert_id?: string): { cert_id: string; certificate_pem: string } | null {
    return this.unionpay_file.get(cert_id === undefined ? "fresh" : { key_id: cert_id });
  }
}

function parseSm2KeyFile(text: string): { key_id: string; public_key_hex: string } {
  const parsed = JSON.parse(text) as { public_key_hex: string };
  parseSm2PublicKey(parsed.public_key_hex);
  return { key_id: sm2KeyId(parsed.public_key_hex), public_key_hex: parsed.public_key_hex };
}
