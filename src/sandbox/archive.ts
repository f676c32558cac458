import { appendFileSync, closeSync, createReadStream, mkdirSync, openSync, readdirSync, readSync, statSync, truncateSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { assert } from "../kernel/assert.ts";
import type { TxnRecord } from "./engine.ts";
import { CapacityError, SANDBOX_LIMITS } from "./limits.ts";
import type { NetworkId } from "./model.ts";
import { decode, encode } from "./persistence.ts";

/** `archive_bytes_max`, `archive_files_max` and `archive_search_bytes_max` by default (tests make them small). */
export interface ArchiveBounds {
  bytes_max?: number;
  files_max?: number;
  search_bytes_max?: number;
}

/** Where a record goes and which lines are the same record. */
export interface ArchiveSpec<R> {
  /** Its file: one per channel (a network, a rail, `deposits`: lowercase letters and `_`) and day. */
  channel(record: R): string;
  date(record: R): string;
  /** Lines with the same id are one record: the first line gives its order, the last its value. */
  id(record: R): string;
}

/**
 * Retired records that still matter, one append-only file per channel and day
 * (`<YYYYMMDD>.<channel>.ndjson`, a whole record a line), so a world in memory (and its snapshot)
 * holds only recent ones. The card networks keep their successful debits and refunds here
 * (`RecordArchive` below, in `<data_dir>/sandbox/state/archive`); the CNAPS rails their final
 * transfers and their deposits (src/sandbox/rails/world.ts, in `.../state/rails-archive`).
 *
 * A record may be written more than once: a crash between its archiving and its deletion from the
 * live table archives it again, and a record brought back to change (a refund's original, a
 * deposit sent back) is archived again with its new value, always to the same file. Readers take
 * the first line of an id for the order and the last for its value. The archive is bounded by
 * `bytes_max` and `files_max`: the oldest days go first (a lookup of a record in a deleted day
 * then finds nothing). Reading streams the file, so a statement or a search never stops the event
 * loop for a whole day; a search reads at most `search_bytes_max`, newest days first, and at most
 * `archive_searches_max` run at once (`CapacityError` past that: the caller retries).
 */
export class DayArchive<R> {
  /** File name → bytes, oldest day first once sorted. */
  private readonly sizes = new Map<string, number>();
  private total_bytes = 0;
  private searches = 0;
  /** Without a directory: the same files as lines in memory (`PAYCORE_DATA_DIR=memory`). */
  private readonly memory = new Map<string, string[]>();

  private readonly bytes_max: number;
  private readonly files_max: number;
  private readonly search_bytes_max: number;

  private constructor(
    private readonly dir: string | null,
    private readonly spec: ArchiveSpec<R>,
    bounds: ArchiveBounds,
  ) {
    this.bytes_max = bounds.bytes_max ?? SANDBOX_LIMITS.archive_bytes_max;
    this.files_max = bounds.files_max ?? SANDBOX_LIMITS.archive_files_max;
    this.search_bytes_max = bounds.search_bytes_max ?? SANDBOX_LIMITS.archive_search_bytes_max;
  }

  static inMemory<R>(spec: ArchiveSpec<R>, bounds: ArchiveBounds = {}): DayArchive<R> {
    return new DayArchive(null, spec, bounds);
  }

  static open<R>(dir: string, spec: ArchiveSpec<R>, bounds: ArchiveBounds = {}): DayArchive<R> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const archive = new DayArchive(dir, spec, bounds);
    for (const name of readdirSync(dir).filter((n) => FILE_NAME.test(n)).sort()) archive.track(name, cutTornTail(join(dir, name)));
    archive.prune();
    return archive;
  }

  get bytes(): number {
    return this.total_bytes;
  }

  /** Appends the records to their days' files: one write per file. */
  append(records: readonly R[]): void {
    const by_file = new Map<string, string[]>();
    for (const record of records) {
      const name = fileName(this.spec.channel(record), this.spec.date(record));
      let lines = by_file.get(name);
      if (!lines) by_file.set(name, (lines = []));
      lines.push(encode(record) + "\n");
    }
    for (const [name, lines] of by_file) {
      const text = lines.join("");
      if (this.dir) appendFileSync(join(this.dir, name), text, { mode: 0o600 });
      else {
        let held = this.memory.get(name);
        if (!held) this.memory.set(name, (held = []));
        held.push(...lines);
      }
      this.track(name, (this.sizes.get(name) ?? 0) + Buffer.byteLength(text));
    }
    this.prune();
  }

  /** That day's archived records of a channel, each once (its last value), in the order they were first archived. */
  async day(channel: string, date: string, count_max: number): Promise<R[]> {
    const at = new Map<string, number>();
    const out: R[] = [];
    for await (const line of this.lines(fileName(channel, date))) {
      const record = decode(line) as R;
      const id = this.spec.id(record);
      const index = at.get(id);
      if (index !== undefined) out[index] = record;
      else if (out.length < count_max) {
        at.set(id, out.length);
        out.push(record);
      }
    }
    return out;
  }

  /**
   * The last archived value of the record among `channels` whose line contains `needle` (a
   * field's name and value, quoted as `encode` writes them) and that `matches`, newest day first.
   */
  async find(channels: readonly string[], needle: string, matches: (record: R) => boolean): Promise<R | undefined> {
    return (await this.search(channels, needle, matches, 1, true))[0];
  }

  /**
   * Every record among `channels` found as by `find`, each once (its last value), newest days
   * first, at most `count_max`, reading at most `bytes_max` (the search bound by default).
   */
  async findAll(channels: readonly string[], needle: string, matches: (record: R) => boolean, count_max: number, bytes_max = this.search_bytes_max): Promise<R[]> {
    return this.search(channels, needle, matches, count_max, false, bytes_max);
  }

  private async search(
    channels: readonly string[], needle: string, matches: (record: R) => boolean, count_max: number, first_file_only: boolean, bytes_max = this.search_bytes_max,
  ): Promise<R[]> {
    if (this.searches >= SANDBOX_LIMITS.archive_searches_max) throw new CapacityError("archive searches");
    this.searches += 1;
    try {
      const suffixes = channels.map((channel) => `.${channel}.ndjson`);
      // Newest day first; the same day's channels in a fixed order.
      const names = [...this.sizes.keys()].filter((name) => suffixes.some((suffix) => name.endsWith(suffix))).sort().reverse();
      const found = new Map<string, R>();
      let read_bytes = 0;
      for (const name of names) {
        read_bytes += this.sizes.get(name) ?? 0;
        if (read_bytes > bytes_max && name !== names[0]) break;
        const in_file = new Map<string, R>();
        for await (const line of this.lines(name)) {
          if (!line.includes(needle)) continue;
          const record = decode(line) as R;
          if (matches(record)) in_file.set(this.spec.id(record), record);
        }
        for (const [id, record] of in_file) {
          if (found.size >= count_max) break;
          if (!found.has(id)) found.set(id, record);
        }
        if (found.size >= count_max || (first_file_only && found.size > 0)) break;
      }
      return [...found.values()];
    } finally {
      this.searches -= 1;
    }
  }

  private async *lines(name: string): AsyncGenerator<string> {
    if (!this.dir) {
      const held = this.memory.get(name) ?? [];
      for (let i = 0; i < held.length; i++) {
        // Yield to the event loop now and then, as a stream would.
        if (i > 0 && i % SANDBOX_LIMITS.snapshot_rows_per_turn === 0) await new Promise((resolve) => setImmediate(resolve));
        yield held[i]!.slice(0, -1);
      }
      return;
    }
    const bytes = this.sizes.get(name) ?? 0;
    if (bytes === 0) return;
    // Only whole lines: what was there when the read began (an append may land meanwhile).
    const input = createReadStream(join(this.dir, name), { encoding: "utf8", end: bytes - 1 });
    try {
      for await (const line of createInterface({ input, crlfDelay: Infinity })) yield line;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err; // pruned meanwhile: nothing there
    } finally {
      input.destroy();
    }
  }

  private track(name: string, bytes: number): void {
    this.total_bytes += bytes - (this.sizes.get(name) ?? 0);
    this.sizes.set(name, bytes);
  }

  /** Deletes the oldest days while over a bound; the newest file always stays. */
  private prune(): void {
    if (this.total_bytes <= this.bytes_max && this.sizes.size <= this.files_max) return;
    const names = [...this.sizes.keys()].sort();
    for (const name of names.slice(0, -1)) {
      if (this.total_bytes <= this.bytes_max && this.sizes.size <= this.files_max) break;
      if (this.dir) unlinkSync(join(this.dir, name));
      else this.memory.delete(name);
      this.total_bytes -= this.sizes.get(name)!;
      this.sizes.delete(name);
    }
  }
}

const TXN_SPEC: ArchiveSpec<TxnRecord> = {
  channel: (record) => record.network,
  date: (record) => (record.result as { value: { settlement_date: string } }).value.settlement_date,
  id: (record) => record.txn_id,
};

/**
 * The card networks' retired transactions that still matter: the successful debits and refunds,
 * which statements list, status queries report and refunds refer to, one file per network and
 * settlement day (src/sandbox/engine.ts).
 */
export class RecordArchive {
  private constructor(private readonly days: DayArchive<TxnRecord>) {}

  static inMemory(bounds: ArchiveBounds = {}): RecordArchive {
    return new RecordArchive(DayArchive.inMemory(TXN_SPEC, bounds));
  }

  static open(dir: string, bounds: ArchiveBounds = {}): RecordArchive {
    return new RecordArchive(DayArchive.open(dir, TXN_SPEC, bounds));
  }

  get bytes(): number {
    return this.days.bytes;
  }

  /** Whether retiring this record must keep it here. */
  static keeps(record: TxnRecord): boolean {
    return (record.kind === "pay" || record.kind === "refund") && record.result.outcome === "ok" && record.result.value.settlement_date !== null;
  }

  /** Appends the records (each one `keeps`) to their days' files: one write per file. */
  append(records: readonly TxnRecord[]): void {
    for (const record of records) assert(RecordArchive.keeps(record), "only settled debits and refunds are archived");
    this.days.append(records);
  }

  /** That day's archived records, each once, in the order they were first archived. */
  day(network: NetworkId, date: string, count_max: number): Promise<TxnRecord[]> {
    return this.days.day(network, date, count_max);
  }

  /**
   * The last archived value of a network's transaction by the PI's id or the network's, newest day
   * first, within the archive's search bounds (see `DayArchive`).
   */
  find(network: NetworkId, by: { txn_id: string } | { network_txn_id: string }): Promise<TxnRecord | undefined> {
    const field = "txn_id" in by ? "txn_id" : "network_txn_id";
    const id = "txn_id" in by ? by.txn_id : by.network_txn_id;
    // The field's name with its opening quote: `"txn_id":` is not found inside `"original_txn_id":`.
    const needle = `"${field}":${JSON.stringify(id)}`;
    const matches = (record: TxnRecord) => (field === "txn_id" ? record.txn_id : record.result.outcome === "ok" ? record.result.value.network_txn_id : "") === id;
    return this.days.find([network], needle, matches);
  }
}

const FILE_NAME = /^\d{8}\.[a-z_]+\.ndjson$/;
/** A record's line is far shorter (a message is at most 64 KiB): its start is within this of the end. */
const TAIL_BYTES_MAX = 1024 * 1024;

/**
 * Cuts a line torn by a crash off the end of a file and answers its size: the record it held was
 * still in the live table (its deletion is journalled after the append), which archives it again.
 */
function cutTornTail(path: string): number {
  const size = statSync(path).size;
  if (size === 0) return 0;
  const tail = Buffer.alloc(Math.min(size, TAIL_BYTES_MAX));
  const fd = openSync(path, "r");
  try {
    readSync(fd, tail, 0, tail.length, size - tail.length);
  } finally {
    closeSync(fd);
  }
  if (tail[tail.length - 1] === 0x0a) return size;
  const whole = size - tail.length + tail.lastIndexOf(0x0a) + 1; // 0 when no line ended
  truncateSync(path, whole);
  return whole;
}

function fileName(channel: string, date: string): string {
  return `${date.replace(/-/g, "")}.${channel}.ndjson`;
}
