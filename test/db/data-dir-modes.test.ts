import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../../src/db/index.ts";
import { startTestSandbox } from "../support/sandbox.ts";

// Issue 8, point 5: the embedded database's files were created world-writable (0666) in a 0755
// directory. The data directory is 0700 and nothing under it may be readable or writable by the
// group or others. File-backed PGlite on both CI passes (PostgreSQL keeps its own files).

const ENTRIES_MAX = 100_000;

/** Every entry under `dir` (not following links) whose mode grants anything to group or other. */
function openToOthers(dir: string): string[] {
  const found: string[] = [];
  const pending = [dir];
  let seen = 0;
  while (pending.length > 0) {
    const current = pending.pop() as string;
    for (const name of readdirSync(current)) {
      seen += 1;
      if (seen > ENTRIES_MAX) throw new Error(`more than ${ENTRIES_MAX} entries under ${dir}`);
      const path = join(current, name);
      const stat = lstatSync(path);
      if (stat.isSymbolicLink()) continue;
      if ((stat.mode & 0o077) !== 0) found.push(`${path.slice(dir.length + 1)} ${(stat.mode & 0o777).toString(8)}`);
      if (stat.isDirectory()) pending.push(path);
    }
  }
  return found;
}

function countFiles(dir: string): number {
  let files = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) if (entry.isFile()) files += 1;
  return files;
}

/** Each test opens a file-backed PGlite once or twice (seconds each on a busy machine). */
const PGLITE_TEST_TIMEOUT_MS = 120_000;

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe("data directory modes (issue 8, point 5)", () => {
  const parent = mkdtempSync(join(tmpdir(), "paycore-modes-"));
  afterAll(() => rmSync(parent, { recursive: true, force: true }));

  it("a fresh PGlite data directory is 0700 and every file PGlite writes is owner-only, also files made while running", async () => {
    const data_dir = join(parent, "fresh");
    const handle = await connect({ data_dir });
    try {
      expect(modeOf(data_dir)).toBe("700");
      expect(modeOf(join(data_dir, "pglite"))).toBe("700");
      expect(countFiles(join(data_dir, "pglite"))).toBeGreaterThan(100); // the cluster is really on disk here
      expect(openToOthers(data_dir)).toEqual([]);
      // Relation files, WAL and the relcache init files are created after the open.
      for (let i = 0; i < 5; i++) await sql`CREATE TABLE ${sql.raw(`mode_probe_${i}`)} (id int PRIMARY KEY)`.execute(handle.db);
      await sql`CREATE TABLE mode_probe (id int PRIMARY KEY, note text)`.execute(handle.db);
      await sql`INSERT INTO mode_probe SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g`.execute(handle.db);
      await sql`CHECKPOINT`.execute(handle.db);
      expect(openToOthers(data_dir)).toEqual([]);
    } finally {
      await handle.close();
    }
    // Reopening writes the relcache init files (pg_internal.init) again.
    const again = await connect({ data_dir });
    try {
      await sql`SELECT count(*) FROM mode_probe`.execute(again.db);
    } finally {
      await again.close();
    }
    expect(modeOf(data_dir)).toBe("700");
    expect(openToOthers(data_dir)).toEqual([]);
  }, PGLITE_TEST_TIMEOUT_MS);

  it("a data directory written by an earlier version (0755, files 0666) is made owner-only when opened", async () => {
    const data_dir = join(parent, "earlier");
    // What openPGlite did before: PGlite's own Node file system in <data_dir>/pglite.
    mkdirSync(data_dir, { recursive: true });
    const old = await PGlite.create({ dataDir: join(data_dir, "pglite") });
    await old.close();
    chmodSync(data_dir, 0o755);
    expect(openToOthers(data_dir).length).toBeGreaterThan(0); // the state this guards against
    const handle = await connect({ data_dir });
    try {
      expect(modeOf(data_dir)).toBe("700");
      expect(openToOthers(data_dir)).toEqual([]);
    } finally {
      await handle.close();
    }
  }, PGLITE_TEST_TIMEOUT_MS);

  it("the sandbox's persisted world is owner-only", async () => {
    const data_dir = join(parent, "sandbox");
    const sandbox = await startTestSandbox({ data_dir });
    const state_dir = join(data_dir, "sandbox", "state");
    try {
      expect(modeOf(state_dir)).toBe("700");
      expect(openToOthers(state_dir)).toEqual([]);
    } finally {
      await sandbox.close(); // writes the snapshot
    }
    expect(countFiles(state_dir)).toBeGreaterThan(0);
    expect(openToOthers(state_dir)).toEqual([]);
    expect(modeOf(join(data_dir, "sandbox", "keys"))).toBe("700"); // private keys; the certificate in it is public
  });
});
