import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateSm2KeyPair, sm2KeyId } from "../../src/kernel/crypto/sm2.ts";
import { EXCHANGE_FILES, PeerKeys } from "../../src/sandbox/keys.ts";

const dir = mkdtempSync(join(tmpdir(), "paycore-peer-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function publish(public_key_hex: string): void {
  mkdirSync(join(dir, "keys"), { recursive: true });
  writeFileSync(join(dir, "keys", EXCHANGE_FILES.netsunion_paycore), JSON.stringify({ public_key_hex }));
}

describe("paycore's keys as the sandbox sees them", () => {
  it("uses a key rotated by paycore at once: a message naming another key makes it look at the file again", () => {
    const peers = new PeerKeys(dir);
    const first = generateSm2KeyPair();
    publish(first.public_key_hex);
    expect(peers.netsunion(sm2KeyId(first.public_key_hex))?.public_key_hex).toBe(first.public_key_hex);
    const second = generateSm2KeyPair();
    publish(second.public_key_hex); // within the re-check interval
    expect(peers.netsunion(sm2KeyId(second.public_key_hex))?.public_key_hex).toBe(second.public_key_hex);
    // Without a key id (the CNAPS gateway), every call looks at the file.
    publish(first.public_key_hex);
    expect(peers.netsunion()?.public_key_hex).toBe(first.public_key_hex);
  });
});
