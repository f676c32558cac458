import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KEY_FILE_RECHECK_MS, WatchedKeyFile } from "./key-file.ts";

const dir = mkdtempSync(join(tmpdir(), "paycore-key-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A "key" file holding its id; a clock the test moves. */
function setUp(name: string) {
  const path = join(dir, name);
  let now = 1_000_000;
  let reads = 0;
  const file = new WatchedKeyFile(
    path,
    (text) => {
      reads += 1;
      const key = JSON.parse(text) as { id: string };
      if (!key.id) throw new Error("no id");
      return key;
    },
    (key) => key.id,
    () => now,
  );
  return {
    file,
    publish: (id: string) => writeFileSync(path, JSON.stringify({ id, pad: id.repeat(3) })),
    remove: () => unlinkSync(path),
    advance: (ms: number) => (now += ms),
    reads: () => reads,
  };
}

describe("WatchedKeyFile", () => {
  it("looks at the file at most once a second while messages name the known key", () => {
    const k = setUp("a.json");
    k.publish("A");
    expect(k.file.get()?.id).toBe("A");
    k.remove(); // unseen until the next look
    k.advance(KEY_FILE_RECHECK_MS - 1);
    expect(k.file.get()?.id).toBe("A");
    expect(k.file.get({ key_id: "A" })?.id).toBe("A");
    k.advance(1);
    expect(k.file.get()).toBeNull();
  });

  it("uses a rotated key at once when a message names it, and when asked for the key of this moment", () => {
    const k = setUp("b.json");
    k.publish("A");
    expect(k.file.get({ key_id: "A" })?.id).toBe("A");
    k.publish("B1"); // rotated within the second
    expect(k.file.get({ key_id: "B1" })?.id).toBe("B1");
    k.publish("C22");
    expect(k.file.get("fresh")?.id).toBe("C22");
    k.advance(KEY_FILE_RECHECK_MS);
    k.publish("D333");
    expect(k.file.get()?.id).toBe("D333");
  });

  it("reads the file again only when it changed; an unparsable or absent file is no key", () => {
    const k = setUp("c.json");
    expect(k.file.get("fresh")).toBeNull();
    k.publish("A");
    k.file.get("fresh");
    k.file.get("fresh");
    expect(k.reads()).toBe(1);
    writeFileSync(join(dir, "c.json"), "{}");
    expect(k.file.get("fresh")).toBeNull();
    expect(k.file.get({ key_id: "A" })).toBeNull();
  });
});
