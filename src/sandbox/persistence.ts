import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, truncateSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { acquireDirLock, DirectoryLockedError, type DirLock } from "../kernel/dir-lock.ts";
import type { Logger } from "../kernel/log.ts";
import { SANDBOX_LIMITS } from "./limits.ts";

/**
 * The sandbox's world on disk, so a restarted sandbox still knows its cards, agreements, balances
 * and transactions — real networks keep their agreements.
 *
 * State is a set of named tables of JSON-serialisable values (bigint and Date allowed). Every
 * `set`/`delete` makes one journal line; when the journal passes both `state_journal_bytes_max`
 * and the size of the last snapshot, the journal is folded: it is renamed `journal.old.ndjson`, a
 * new journal takes the changes from then on, and all tables are written to a snapshot (temp file,
 * fsync, rename) `snapshot_rows_per_turn` rows per turn of the event loop, so answers go on while
 * it is written; then the old journal is deleted. The snapshot is consistent with the new journal
 * because every line carries a whole value: a row visited after a change holds that change, and
 * any change after the rename is also in the new journal, which is replayed after it. Loading
 * replays the snapshot, the old journal (if a fold did not finish) and the journal, in that order.
 * The world itself is bounded (src/sandbox/engine.ts retires old transactions), so is a snapshot;
 * waiting for a journal as large as the snapshot keeps about one byte written again per journal
 * byte, and a restart replays at most that much.
 *
 * Durability guarantee: nothing that reports a change leaves the process before the change's
 * journal line is written (to the OS, as before: a crash of the process loses nothing written; the
 * journal is not fsynced). Lines are collected and written together by `flush()` — one write per
 * answer instead of one per `set` (a payment makes five) — which runs: in an `onSend` hook before
 * every HTTP answer (src/sandbox/index.ts), before every notification or push to paycore, at the
 * end of the event-loop turn for changes made outside a request (setImmediate), and whenever
 * `state_journal_pending_bytes_max` is reached. A crash can lose only changes nobody was told of,
 * which a caller's retry makes again, as a crash just before the answer always could. Loading reads the snapshot, then replays the journal; each
 * line carries a whole value, so replaying a line twice is harmless and a line torn by a crash
 * is the only thing dropped. Files live in `<data_dir>/sandbox/state/`, locked to one process.
 *
 * A sandbox module keeps its state in `state.table(name)` and calls `set` again after changing a
 * value in place. `memory` (no directory) keeps the same tables without writing anything.
 */
export interface StateTable<V> {
  get(key: string): V | undefined;
  has(key: string): boolean;
  /** Stores (and journals) the value; call again after mutating a stored value. */
  set(key: string, value: V): void;
  delete(key: string): void;
  /** Writes the pending journal lines of every table now (see the durability guarantee above). */
  flush(): void;
  keys(): IterableIterator<string>;
  values(): IterableIterator<V>;
  entries(): IterableIterator<[string, V]>;
  readonly size: number;
}

const SNAPSHOT = "snapshot.json";
const JOURNAL = "journal.ndjson";
/** The journal being folded into the snapshot. */
const OLD_JOURNAL = "journal.old.ndjson";
const LOCK = "sandbox.lock";
const FORMAT_VERSION = 1;
/** A snapshot is written in pieces of about this many characters. */
const SNAPSHOT_CHUNK_CHARS = 1 << 20;

type Line = { t: string; k: string; v?: unknown; d?: 1 };

/** JSON with bigint and Date kept as such: `{"$bigint":"12"}`, `{"$date":"…"}`. */
export function encode(value: unknown): string {
  return encodeValue(value, 0) ?? "null";
}

/** The replacer form: for what `encodeValue` does not write itself (objects with a prototype or `toJSON`). */
function encodeGeneric(value: unknown): string | undefined {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    const raw = this[key];
    if (raw instanceof Date) return { $date: raw.toISOString() };
    if (typeof v === "bigint") return { $bigint: v.toString() };
    return v;
  });
}

const ENCODE_DEPTH_MAX = 64;
/** What JSON.stringify would escape: quote, backslash, control characters, surrogates (lone ones are escaped). */
// eslint-disable-next-line no-control-regex -- the control characters are what JSON escapes
const JSON_ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

function quote(text: string): string {
  return JSON_ESCAPED.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** `"key":` for the few field names every journal line repeats (bounded: keys may be data too). */
const quoted_keys = new Map<string, string>();
const QUOTED_KEYS_MAX = 512;

function quotedKey(key: string): string {
  let quoted = quoted_keys.get(key);
  if (quoted === undefined) {
    quoted = quote(key) + ":";
    if (quoted_keys.size >= QUOTED_KEYS_MAX) quoted_keys.clear();
    quoted_keys.set(key, quoted);
  }
  return quoted;
}

/**
 * What `encodeGeneric` writes, without a replacer call per key (a journal line per change, five per
 * payment, was 3 % of the sandbox's CPU): plain objects, arrays, strings, numbers, booleans,
 * bigint, Date and null by hand; anything else through the replacer. `undefined` is left out of
 * objects and is `null` in arrays, as JSON.stringify does.
 */
function encodeValue(value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case "string":
      return quote(value);
    case "number":
      return Number.isFinite(value) ? String(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return `{"$bigint":"${value.toString()}"}`;
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return "null";
  if (value instanceof Date) return `{"$date":${JSON.stringify(value.toISOString())}}`;
  if (depth >= ENCODE_DEPTH_MAX) return encodeGeneric(value);
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i > 0 ? "," : "") + (encodeValue(value[i], depth + 1) ?? "null");
    return out + "]";
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  const object = value as Record<string, unknown>;
  if ((proto !== Object.prototype && proto !== null) || typeof object.toJSON === "function") return encodeGeneric(value);
  let out = "{";
  for (const key of Object.keys(object)) {
    const encoded = encodeValue(object[key], depth + 1);
    if (encoded === undefined) continue;
    out += (out.length > 1 ? "," : "") + quotedKey(key) + encoded;
  }
  return out + "}";
}

export function decode(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1 && typeof o.$bigint === "string") return BigInt(o.$bigint);
      if (keys.length === 1 && typeof o.$date === "string") return new Date(o.$date);
    }
    return v;
  });
}

export class SandboxState {
  private readonly tables = new Map<string, Map<string, unknown>>();
  private fd: number | null = null;
  private journal_bytes = 0;
  /** Bytes of the last snapshot written (0 before the first). */
  private snapshot_bytes = 0;
  private pending: string[] = [];
  private pending_bytes = 0;
  private flush_scheduled = false;
  private lock: DirLock | null = null;
  /** A fold in progress: its temp snapshot's descriptor and where it stands. */
  private fold: { fd: number; rows: Generator<string>; bytes: number } | null = null;
  /** Folds finished since open (tests, logs). */
  folds_count = 0;

  private constructor(
    private readonly dir: string | null,
    private readonly log: Logger | null,
    /** The journal is folded past this size (or the last snapshot's, whichever is larger). */
    private readonly journal_bytes_max: number = SANDBOX_LIMITS.state_journal_bytes_max,
  ) {}

  /** Nothing kept: for `PAYCORE_DATA_DIR=memory`. */
  static inMemory(): SandboxState {
    return new SandboxState(null, null);
  }

  /**
   * Opens (creating) `<data_dir>/sandbox/state`, locks it, and loads what it holds.
   * `journal_bytes_max` (tests) replaces `state_journal_bytes_max`.
   */
  static open(data_dir: string, log: Logger, options: { journal_bytes_max?: number } = {}): SandboxState {
    const dir = join(data_dir, "sandbox", "state");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const state = new SandboxState(dir, log, options.journal_bytes_max);
    try {
      state.lock = acquireDirLock(dir, LOCK);
    } catch (err) {
      if (err instanceof DirectoryLockedError) throw new Error(`another sandbox (pid ${err.holder.pid}) already runs on ${data_dir}; stop it or use another PAYCORE_DATA_DIR`);
      throw err;
    }
    state.load();
    state.fd = openSync(join(dir, JOURNAL), "a", 0o600);
    return state;
  }

  get persistent(): boolean {
    return this.dir !== null;
  }

  /** Where retired transactions are kept (src/sandbox/archive.ts); null in memory. */
  get archive_dir(): string | null {
    return this.dir === null ? null : join(this.dir, "archive");
  }

  /** Where the rails' retired transfers and deposits are kept (src/sandbox/rails/world.ts); null in memory. */
  get rails_archive_dir(): string | null {
    return this.dir === null ? null : join(this.dir, "rails-archive");
  }

  /** Bytes of the last snapshot written (0 before the first). */
  snapshotBytes(): number {
    return this.snapshot_bytes;
  }

  get folding(): boolean {
    return this.fold !== null;
  }

  table<V>(name: string): StateTable<V> {
    let map = this.tables.get(name) as Map<string, V> | undefined;
    if (!map) {
      map = new Map<string, V>();
      this.tables.set(name, map);
    }
    const rows = map;
    const write = (line: Line) => this.append(line);
    return {
      get: (key) => rows.get(key),
      has: (key) => rows.has(key),
      set: (key, value) => {
        rows.set(key, value);
        write({ t: name, k: key, v: value });
      },
      delete: (key) => {
        if (rows.delete(key)) write({ t: name, k: key, d: 1 });
      },
      flush: () => this.flush(),
      keys: () => rows.keys(),
      values: () => rows.values(),
      entries: () => rows.entries(),
      get size() {
        return rows.size;
      },
    };
  }

  /** Writes a snapshot now and empties the journal (also done on close, so a restart loads fast). */
  compact(): void {
    if (!this.dir || this.fd === null) return;
    this.abandonFold();
    // Pending lines go to the journal first: a crash before the truncation below replays the whole
    // journal over the new snapshot, which gives the snapshot only if the journal ends at it.
    this.writePending();
    const temp = join(this.dir, `${SNAPSHOT}.tmp`);
    const fd = openSync(temp, "w", 0o600);
    try {
      let bytes = 0;
      for (const chunk of this.snapshotChunks()) bytes += writeSync(fd, chunk);
      this.snapshot_bytes = bytes;
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, join(this.dir, SNAPSHOT));
    // A crash here replays the old journals over the new snapshot: whole values, same result.
    truncateSync(join(this.dir, JOURNAL), 0);
    this.journal_bytes = 0;
    if (existsSync(join(this.dir, OLD_JOURNAL))) unlinkSync(join(this.dir, OLD_JOURNAL));
  }

  /** Starts folding the journal in steps (see above); `compact` does it at once. */
  private startFold(): void {
    const dir = this.dir!;
    // A fold that failed leaves its old journal: fold everything at once then.
    if (existsSync(join(dir, OLD_JOURNAL))) return this.compact();
    this.writePending();
    closeSync(this.fd!);
    this.fd = null;
    renameSync(join(dir, JOURNAL), join(dir, OLD_JOURNAL));
    this.fd = openSync(join(dir, JOURNAL), "a", 0o600);
    this.journal_bytes = 0;
    this.fold = { fd: openSync(join(dir, `${SNAPSHOT}.tmp`), "w", 0o600), rows: this.snapshotChunks(SANDBOX_LIMITS.snapshot_rows_per_turn), bytes: 0 };
    setImmediate(() => this.foldStep());
  }

  /** Writes the next rows of the snapshot; the last step puts it in place and deletes the old journal. */
  private foldStep(): void {
    const fold = this.fold;
    if (!fold) return; // abandoned by compact() or close()
    try {
      const next = fold.rows.next();
      if (!next.done) {
        fold.bytes += writeSync(fold.fd, next.value);
        setImmediate(() => this.foldStep());
        return;
      }
      fsyncSync(fold.fd);
      closeSync(fold.fd);
      this.fold = null;
      renameSync(join(this.dir!, `${SNAPSHOT}.tmp`), join(this.dir!, SNAPSHOT));
      unlinkSync(join(this.dir!, OLD_JOURNAL));
      this.snapshot_bytes = fold.bytes;
      this.folds_count += 1;
    } catch (err) {
      // The old journal stays and is replayed at load; the next fold is done at once.
      this.abandonFold();
      this.log?.error({ err }, "sandbox state: folding the journal failed");
    }
  }

  private abandonFold(): void {
    if (!this.fold) return;
    try {
      closeSync(this.fold.fd);
    } finally {
      this.fold = null;
    }
  }

  /**
   * The text of `encode({ version, tables: { name: [[key, value], …] } })` in chunks of about
   * SNAPSHOT_CHUNK_CHARS or `rows_max` rows, encoded as they are asked for: the whole world as one
   * string was built, flattened and converted at once, with a copy of every row's entry. Tables
   * and rows changed between chunks are fine (Map iteration allows it; see the fold above).
   */
  private *snapshotChunks(rows_max = Infinity): Generator<string> {
    let chunk = `{"version":${FORMAT_VERSION},"tables":{`;
    let tables = 0;
    let rows_in_chunk = 0;
    for (const [name, rows] of this.tables) {
      chunk += (tables++ > 0 ? "," : "") + quote(name) + ":[";
      let count = 0;
      for (const entry of rows) {
        // Depth 3, as inside encode()'s object → tables → rows → entry.
        chunk += (count++ > 0 ? "," : "") + encodeValue(entry, 3);
        if (chunk.length >= SNAPSHOT_CHUNK_CHARS || ++rows_in_chunk >= rows_max) {
          yield chunk;
          chunk = "";
          rows_in_chunk = 0;
        }
      }
      chunk += "]";
    }
    yield chunk + "}}";
  }

  close(): void {
    if (this.fd === null) return;
    this.compact(); // pending lines included
    closeSync(this.fd);
    this.fd = null;
    this.lock?.release();
    this.lock = null;
  }

  /** Writes the pending journal lines in one write; see the durability guarantee above. */
  flush(): void {
    if (this.fd === null || this.pending.length === 0) return;
    this.writePending();
    if (this.fold === null && this.journal_bytes > Math.max(this.journal_bytes_max, this.snapshot_bytes)) this.startFold();
  }

  private writePending(): void {
    if (this.fd === null || this.pending.length === 0) return;
    const text = this.pending.length === 1 ? this.pending[0]! : this.pending.join("");
    // Cleared only once written: after a failed write the lines are still pending, and the answer
    // that triggered the flush fails instead of leaving.
    this.journal_bytes += writeSync(this.fd, text);
    this.pending = [];
    this.pending_bytes = 0;
  }

  private append(line: Line): void {
    if (this.fd === null) return;
    const text = encode(line) + "\n";
    this.pending.push(text);
    this.pending_bytes += text.length;
    if (this.pending_bytes >= SANDBOX_LIMITS.state_journal_pending_bytes_max) return this.flush();
    if (this.flush_scheduled) return;
    this.flush_scheduled = true;
    setImmediate(() => {
      this.flush_scheduled = false;
      try {
        this.flush();
      } catch (err) {
        // The lines stay pending: the next answer's flush tries again, and fails that answer if it must.
        this.log?.error({ err }, "sandbox state: writing the journal failed");
      }
    });
  }

  private load(): void {
    const dir = this.dir!;
    const snapshot_path = join(dir, SNAPSHOT);
    if (existsSync(snapshot_path)) {
      const snapshot = decode(readFileSync(snapshot_path, "utf8")) as { version: number; tables: Record<string, [string, unknown][]> };
      if (snapshot.version !== FORMAT_VERSION) throw new Error(`${snapshot_path}: state format ${snapshot.version}, this sandbox reads ${FORMAT_VERSION}`);
      for (const [name, rows] of Object.entries(snapshot.tables)) this.tables.set(name, new Map(rows));
    }
    const journal_path = join(dir, JOURNAL);
    if (!existsSync(journal_path) && !existsSync(join(dir, OLD_JOURNAL))) return;
    // The old journal first: it is older than the journal (see the fold above).
    const applied = this.replay(join(dir, OLD_JOURNAL)) + this.replay(journal_path);
    this.log?.info({ tables: this.tables.size, journal_lines: applied }, "sandbox state loaded");
    // Start the new run from a clean snapshot: a torn tail is gone and the journals are empty.
    this.fd = openSync(journal_path, "a", 0o600);
    this.compact();
    closeSync(this.fd);
    this.fd = null;
  }

  /** Applies a journal's lines (none if it is missing); a torn last line is dropped. */
  private replay(journal_path: string): number {
    if (!existsSync(journal_path)) return 0;
    const lines = readFileSync(journal_path, "utf8").split("\n");
    let applied = 0;
    for (const [index, text] of lines.entries()) {
      if (text === "") continue;
      let line: Line;
      try {
        line = decode(text) as Line;
      } catch (err) {
        // Only the last line can be torn (a crash mid-append); anything else is damage.
        if (index < lines.length - 2) throw new Error(`${journal_path}: line ${index + 1} is damaged: ${(err as Error).message}`);
        this.log?.warn({ line: index + 1 }, "sandbox state: dropped a journal line torn by a crash");
        continue;
      }
      let rows = this.tables.get(line.t);
      if (!rows) this.tables.set(line.t, (rows = new Map()));
      if (line.d) rows.delete(line.k);
      else rows.set(line.k, line.v);
      applied += 1;
    }
    return applied;
  }
}
