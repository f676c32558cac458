import { appendFileSync, closeSync, createReadStream, mkdirSync, openSync, readdirSync, readSync, statSync, truncateSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { assert } from "../kernel/assert.ts";
import type { TxnRecord } from "./engine.ts";
import { CapacityError, SANDBOX_LIMITS } from "./limits.ts";
import type { NetworkId } from "./model.ts";
import { decode, encode } from "./persistence.ts";

/**
 * Retired transactions that still matter: the successful debits and refunds, which statements list,
 * status queries report and refunds refer to. One append-only file per network and settlement day
 * (`<YYYYMMDD>.<network>.ndjson`, a whole record a line) in `<data_dir>/sandbox/state/archive`, so the
 * in-memory world (and its snapshot) holds only the last `records_retention_ms` of transactions.
 *
 * A record may be written more than once: a crash between its archiving and its deletion from the
 * live table archives it again, and an original brought back for a refund is archived again with
 * its refunded amount. Readers take the first line of a key for the statement's order and the last
 * for its value. The archive is bounded by `archive_bytes_max` and `archive_files_max`: the oldest
 * days go first (a refund of a payment in a deleted day then answers `original_not_found`).
 * Reading streams the file, so a statement or a search never stops the event loop for a whole day.
 */
/** `archive_bytes_max` and `archive_search_bytes_max` by default (tests make them small). */
export interface ArchiveBounds {
  bytes_max?: number;
  search_bytes_max?: number;
}

export class RecordArchive {
  /** File name → bytes, oldest day first once sorted. */
  private readonly sizes = new Map<string, number>();
  private total_bytes = 0;
  private searches = 0;
  /** Without a directory: the same files as lines in memory (`PAYCORE_DATA_DIR=memory`). */
  private readonly memory = new Map<string, string[]>();

  private readonly bytes_max: number;
  private readonly search_bytes_max: number;

  private constructor(
    private readonly dir: string | null,
    bounds: ArchiveBounds,
  ) {
    this.bytes_max = bounds.bytes_max ?? SANDBOX_LIMITS.archive_bytes_max;
    this.search_bytes_max = bounds.search_bytes_max ?? SANDBOX_LIMITS.archive_search_bytes_max;
  }

  static inMemory(bounds: ArchiveBounds = {}): RecordArchive {
    return new RecordArchive(null, bounds);
  }

  static open(dir: string, bounds: ArchiveBounds = {}): RecordArchive {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const archive = new RecordArchive(dir, bounds);
    for (const name of readdirSync(dir).filter((n) => FILE_NAME.test(n)).sort()) archive.track(name, cutTornTail(join(dir, name)));
    archive.prune();
    return archive;
  }

  get bytes(): number {
    return this.total_bytes;
  }

  /** Whether retiring this record must keep it here. */
  static keeps(record: TxnRecord): boolean {
    return (record.kind === "pay" || record.kind === "refund") && record.result.outcome === "ok" && record.result.value.settlement_date !== null;
  }

  /** Appends the records (each one `keeps`) to their days' files: one write per file. */
  append(records: readonly TxnRecord[]): void {
    const by_file = new Map<string, string[]>();
    for (const record of records) {
      assert(RecordArchive.keeps(record), "only settled debits and refunds are archived");
      const name = fileName(record.network, (record.result as { value: { settlement_date: string } }).value.settlement_date);
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

  /** That day's archived records, each once, in the order they were first archived. */
  async day(network: NetworkId, date: string, count_max: number): Promise<TxnRecord[]> {
    const seen = new Set<string>();
    const out: TxnRecord[] = [];
    for await (const line of this.lines(fileName(network, date))) {
      if (out.length >= count_max) break;
      const record = decode(line) as TxnRecord;
      const key = record.txn_id;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(record);
    }
    return out;
  }

  /**
   * The last archived value of a network's transaction by the PI's id or the network's, newest day
   * first, reading at most `archive_search_bytes_max` (the first file whatever its size), at most
   * `archive_searches_max` searches at once (`CapacityError` past that: the caller retries).
   */
  async find(network: NetworkId, by: { txn_id: string } | { network_txn_id: string }): Promise<TxnRecord | undefined> {
    if (this.searches >= SANDBOX_LIMITS.archive_searches_max) throw new CapacityError("archive searches");
    this.searches += 1;
    try {
      return await this.search(network, by);
    } finally {
      this.searches -= 1;
    }
  }

  private async search(network: NetworkId, by: { txn_id: string } | { network_txn_id: string }): Promise<TxnRecord | undefined> {
    const field = "txn_id" in by ? "txn_id" : "network_txn_id";
    const id = "txn_id" in by ? by.txn_id : by.network_txn_id;
    // The field's name with its opening quote: `"txn_id":` is not found inside `"original_txn_id":`.
    const needle = `"${field}":${JSON.stringify(id)}`;
    const names = [...this.sizes.keys()].filter((name) => name.endsWith(`.${network}.ndjson`)).sort().reverse();
    let read_bytes = 0;
    for (const name of names) {
      read_bytes += this.sizes.get(name) ?? 0;
      if (read_bytes > this.search_bytes_max && name !== names[0]) return undefined;
      let found: TxnRecord | undefined;
      for await (const line of this.lines(name)) {
        if (!line.includes(needle)) continue;
        const record = decode(line) as TxnRecord;
        const value = field === "txn_id" ? record.txn_id : record.result.outcome === "ok" ? record.result.value.network_txn_id : "";
        if (value === id) found = record;
      }
      if (found) return found;
    }
    return undefined;
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
    if (this.total_bytes <= this.bytes_max && this.sizes.size <= SANDBOX_LIMITS.archive_files_max) return;
    const names = [...this.sizes.keys()].sort();
    for (const name of names.slice(0, -1)) {
      if (this.total_bytes <= this.bytes_max && this.sizes.size <= SANDBOX_LIMITS.archive_files_max) break;
      if (this.dir) unlinkSync(join(this.dir, name));
      else this.memory.delete(name);
      this.total_bytes -= this.sizes.get(name)!;
      this.sizes.delete(name);
    }
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

function fileName(network: NetworkId, date: string): string {
  return `${date.replace(/-/g, "")}.${network}.ndjson`;
}
