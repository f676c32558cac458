import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NetworkKeys } from "../../src/channels/keys.ts";
import { loadOrCreateNetworkKeys } from "../../src/sandbox/keys.ts";

const dir = mkdtempSync(join(tmpdir(), "paycore-network-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * paycore looks at the networks' key files at most once a second (it used to on every message);
 * a network that rotates its keys must still be understood at once: its next answer or
 * notification names the new key id, and a card is always encrypted to the key of the moment.
 */
describe("the networks' keys as paycore sees them", () => {
  it("uses keys the network rotated within the second, as soon as a message names them", () => {
    const first = loadOrCreateNetworkKeys(dir, new Date());
    const keys = new NetworkKeys(dir);
    expect(keys.netsunion()?.key_id).toBe(first.netsunion.key_id);
    expect(keys.unionpay()?.cert_id).toBe(first.unionpay.cert_id);

    rmSync(join(dir, "sandbox", "keys"), { recursive: true, force: true });
    const second = loadOrCreateNetworkKeys(dir, new Date()); // the network's new keys, published
    expect(second.netsunion.key_id).not.toBe(first.netsunion.key_id);

    expect(keys.netsunion({ key_id: second.netsunion.key_id })?.public_key_hex).toBe(second.netsunion.public_key_hex);
    expect(keys.unionpay({ key_id: second.unionpay.cert_id })?.certificate_pem).toBe(second.unionpay.certificate_pem);
    // Known now: the cached look answers the new keys too.
    expect(keys.netsunion()?.key_id).toBe(second.netsunion.key_id);
    expect(keys.unionpay()?.cert_id).toBe(second.unionpay.cert_id);
  });

  it("encrypts to the key of this very moment: a fresh look after a rotation", () => {
    const keys = new NetworkKeys(dir);
    const before = keys.netsunion();
    rmSync(join(dir, "sandbox", "keys"), { recursive: true, force: true });
    const rotated = loadOrCreateNetworkKeys(dir, new Date());
    expect(before?.key_id).not.toBe(rotated.netsunion.key_id);
    expect(keys.netsunion("fresh")?.key_id).toBe(rotated.netsunion.key_id);
    expect(keys.unionpay("fresh")?.cert_id).toBe(rotated.unionpay.cert_id);
  });
});
