import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { certificateSerial } from "../../src/kernel/crypto/rsa.ts";
import { KEY_FILES } from "../../src/channels/keys.ts";
import { runCommand } from "../support/run.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const KEYS_MODULE = join(ROOT, "src", "channels", "keys.ts");
const PROCESSES = 4;
const ROUNDS = 3;

/**
 * Several paycore processes starting together on one data directory (docs/scaling.md) each load
 * or create paycore's channel keys. They must all end up signing with the keys the files hold
 * (the networks read those). Before the generation lock, each process generated its own UnionPay
 * key pair, kept it in memory, and the last writer's file won: the others signed with a
 * certificate the network did not know (seen in 2 of 3 rounds of 4 processes here).
 */
describe("channel keys created by several processes at once", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it(`${PROCESSES} processes, ${ROUNDS} rounds: one key pair each, the one in the files`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const dir = mkdtempSync(join(tmpdir(), "paycore-keys-race-"));
      dirs.push(dir);
      const script = join(dir, "load-keys.mts");
      writeFileSync(
        script,
        `const k = await import(${JSON.stringify(KEYS_MODULE)});
const r = k.ensurePaycoreChannelKeys(process.argv[2], new Date());
console.log(JSON.stringify({ netsunion: r.netsunion.key_id, unionpay: r.unionpay.cert_id }));\n`,
      );
      const data_dir = join(dir, "data");
      const runs = await Promise.all(
        Array.from({ length: PROCESSES }, () => runCommand(process.execPath, ["--import", "tsx", script, data_dir], { cwd: ROOT, timeout_ms: 60_000 })),
      );
      for (const r of runs) expect(r.status, r.stderr).toBe(0);
      const seen = runs.map((r) => JSON.parse(r.stdout.trim()) as { netsunion: string; unionpay: string });
      const published = certificateSerial(readFileSync(join(data_dir, KEY_FILES.exchange_dir, KEY_FILES.unionpay_paycore), "utf8"));
      const netsunion = (JSON.parse(readFileSync(join(data_dir, KEY_FILES.exchange_dir, KEY_FILES.netsunion_paycore), "utf8")) as { key_id: string }).key_id;
      for (const s of seen) expect(s).toEqual({ netsunion, unionpay: published });
    }
  }, 180_000);
});
