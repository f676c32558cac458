import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { certificateSerial, createSelfSignedCertificate, generateRsaKeyPair } from "../kernel/crypto/rsa.ts";
import { generateSm2KeyPair, parseSm2PublicKey, sm2KeyId } from "../kernel/crypto/sm2.ts";
import { WatchedKeyFile, type KeyLookup } from "../kernel/key-file.ts";

/**
 * paycore's channel keys and the networks' public keys, exchanged as files (docs/sandbox.md):
 * `<data_dir>/keys/` holds public material of both sides; paycore's private keys stay in
 * `<data_dir>/channels/keys/`, readable by the owner only. The channel configuration in the
 * database names these files; private keys never enter the database.
 */
export const KEY_FILES = {
  exchange_dir: "keys",
  private_dir: join("channels", "keys"),
  netsunion_network: "netsunion.sm2.json",
  unionpay_network: "unionpay.cert.pem",
  netsunion_paycore: "paycore-netsunion.sm2.json",
  unionpay_paycore: "paycore-unionpay.cert.pem",
  netsunion_private: "paycore-netsunion.sm2.key.json",
  unionpay_private: "paycore-unionpay.rsa.key.pem",
  unionpay_private_cert: "paycore-unionpay.cert.pem",
} as const;

const CERT_VALIDITY_YEARS = 5;

export interface Sm2Own {
  key_id: string;
  private_key_hex: string;
  public_key_hex: string;
}

export interface RsaOwn {
  cert_id: string;
  certificate_pem: string;
  private_key_pem: string;
}

export interface PaycoreChannelKeys {
  netsunion: Sm2Own;
  unionpay: RsaOwn;
}

/**
 * Writes a file whole or not at all (a temporary file renamed into place): another process reading
 * it meanwhile, or rewriting the same content, never sees half of it.
 */
function writeWhole(path: string, content: string, mode = 0o644): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

function writePrivate(path: string, content: string): void {
  writeWhole(path, content, 0o600);
}

const KEYGEN_LOCK = ".generating";
const KEYGEN_WAIT_MS_MAX = 30_000;
const KEYGEN_LOCK_STALE_MS = 60_000;
const KEYGEN_POLL_MS = 50;

/**
 * Runs `generate` holding `<dir>/.generating` (mkdir is atomic). Several paycore processes starting
 * together on one data directory would otherwise each generate keys, each keep its own in memory
 * while the files (and the networks) hold the last writer's, and sign with a key nobody knows. A
 * waiting process then finds the keys made. A lock left by a process that died is stale after a
 * minute. Start-up only: it waits synchronously.
 */
function whileGenerating(dir: string, generate: () => void): void {
  const lock = join(dir, KEYGEN_LOCK);
  const deadline = Date.now() + KEYGEN_WAIT_MS_MAX;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const age_ms = (() => {
      try {
        return Date.now() - statSync(lock).mtimeMs;
      } catch {
        return 0; // released meanwhile: try again
      }
    })();
    if (age_ms > KEYGEN_LOCK_STALE_MS) rmSync(lock, { recursive: true, force: true });
    else if (Date.now() > deadline) throw new Error(`${lock}: another process has been generating channel keys for over ${KEYGEN_WAIT_MS_MAX} ms`);
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, KEYGEN_POLL_MS);
  }
  try {
    generate();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Loads paycore's channel keys, generating them at first start, and publishes the public halves. */
export function ensurePaycoreChannelKeys(data_dir: string, now: Date): PaycoreChannelKeys {
  const private_dir = join(data_dir, KEY_FILES.private_dir);
  const exchange_dir = join(data_dir, KEY_FILES.exchange_dir);
  mkdirSync(exchange_dir, { recursive: true });
  mkdirSync(join(data_dir, "channels"), { recursive: true });
  mkdirSync(private_dir, { recursive: true, mode: 0o700 });

  const sm2_path = join(private_dir, KEY_FILES.netsunion_private);
  const rsa_path = join(private_dir, KEY_FILES.unionpay_private);
  const cert_path = join(private_dir, KEY_FILES.unionpay_private_cert);
  const missing = () => !existsSync(sm2_path) || !existsSync(rsa_path) || !existsSync(cert_path);
  if (missing()) {
    whileGenerating(private_dir, () => {
      if (!existsSync(sm2_path)) writePrivate(sm2_path, JSON.stringify(generateSm2KeyPair()));
      if (!existsSync(rsa_path) || !existsSync(cert_path)) {
        const keys = generateRsaKeyPair();
        const not_after = new Date(now);
        not_after.setUTCFullYear(not_after.getUTCFullYear() + CERT_VALIDITY_YEARS);
        const certificate = createSelfSignedCertificate({ keys, common_name: "paycore UnionPay signing", organization: "paycore", not_before: new Date(now.getTime() - 86_400_000), not_after });
        // The certificate last: a reader that sees both files sees a matching pair.
        writePrivate(rsa_path, keys.private_key_pem);
        writeWhole(cert_path, certificate);
      }
    });
  }
  const sm2 = JSON.parse(readFileSync(sm2_path, "utf8")) as { private_key_hex: string; public_key_hex: string };
  parseSm2PublicKey(sm2.public_key_hex);
  const netsunion: Sm2Own = { key_id: sm2KeyId(sm2.public_key_hex), ...sm2 };
  writeWhole(join(exchange_dir, KEY_FILES.netsunion_paycore), JSON.stringify({ key_id: netsunion.key_id, public_key_hex: netsunion.public_key_hex }));

  const certificate_pem = readFileSync(cert_path, "utf8");
  writeWhole(join(exchange_dir, KEY_FILES.unionpay_paycore), certificate_pem);
  return { netsunion, unionpay: { cert_id: certificateSerial(certificate_pem), certificate_pem, private_key_pem: readFileSync(rsa_path, "utf8") } };
}

export interface NetsUnionPublic {
  key_id: string;
  public_key_hex: string;
}
export interface UnionPayPublic {
  cert_id: string;
  certificate_pem: string;
}

/**
 * The networks' public keys from the exchange directory, read when needed (the network may publish
 * or rotate them after paycore starts) and re-read when the file changes. Null when absent or bad.
 * The file is looked at once a second at most ("cached", every outgoing message), at once when an
 * answer or notification names another key id ({ key_id }), and before encrypting a card to the
 * key ("fresh"): src/kernel/key-file.ts. It used to be looked at (access + stat) for every message.
 */
export class NetworkKeys {
  private readonly netsunion_file: WatchedKeyFile<NetsUnionPublic>;
  private readonly unionpay_file: WatchedKeyFile<UnionPayPublic>;

  constructor(data_dir: string) {
    const exchange_dir = join(data_dir, KEY_FILES.exchange_dir);
    this.netsunion_file = new WatchedKeyFile(join(exchange_dir, KEY_FILES.netsunion_network), parseNetsUnionKey, (k) => k.key_id);
    this.unionpay_file = new WatchedKeyFile(join(exchange_dir, KEY_FILES.unionpay_network), (text) => ({ cert_id: certificateSerial(text), certificate_pem: text }), (k) => k.cert_id);
  }

  netsunion(lookup: KeyLookup = "cached"): NetsUnionPublic | null {
    return this.netsunion_file.get(lookup);
  }

  unionpay(lookup: KeyLookup = "cached"): UnionPayPublic | null {
    return this.unionpay_file.get(lookup);
  }
}

function parseNetsUnionKey(text: string): NetsUnionPublic {
  const parsed = JSON.parse(text) as { public_key_hex: string };
  parseSm2PublicKey(parsed.public_key_hex);
  return { key_id: sm2KeyId(parsed.public_key_hex), public_key_hex: parsed.public_key_hex };
}
