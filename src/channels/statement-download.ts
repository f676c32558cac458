import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { StringDecoder } from "node:string_decoder";
import { statementParser, StatementFormatError, type StatementChannelId, type StatementParser } from "./statement.ts";
import { pending } from "./support.ts";
import type { Pending, StatementFileStream, StatementRecord } from "./types.ts";

/**
 * A statement file, streamed. The network's signed answer names the file and states its SHA-256
 * and size; the file comes over a plain GET next to the message endpoint and is spooled to a
 * temporary file as it arrives, hashed and every line checked on the way (one pass, never held
 * in memory), so a file that does not match what the signed answer said, or has a bad line
 * anywhere or totals that do not add up, is refused before anything of it is used. The records
 * are then read from the spool, line by line, by whoever loads them; `dispose()` removes it.
 */
export const STATEMENT_DOWNLOAD_LIMITS = {
  /** 5,000,000 lines of at most 260 characters, with room. */
  bytes_max: 2 * 1024 * 1024 * 1024,
  timeout_ms: 10 * 60_000,
} as const;

/** File names a signed answer may give: no paths, nothing to escape. */
const FILE_NAME = /^[A-Za-z0-9_.-]{1,96}$/;

export type StatementDownload = StatementFileStream;

export interface SignedFileRef {
  name: string | undefined;
  bytes: string | undefined;
  sha256: string | undefined;
}

/** Checks what a signed answer says about its file; null when it names none properly. */
export function fileRef(ref: SignedFileRef): { name: string; bytes: number; sha256: string } | null {
  if (!ref.name || !FILE_NAME.test(ref.name)) return null;
  if (!ref.bytes || !/^\d{1,12}$/.test(ref.bytes) || Number(ref.bytes) > STATEMENT_DOWNLOAD_LIMITS.bytes_max) return null;
  if (!ref.sha256 || !/^[0-9a-f]{64}$/.test(ref.sha256)) return null;
  return { name: ref.name, bytes: Number(ref.bytes), sha256: ref.sha256 };
}

/** Downloads, verifies and checks a statement file; a `Pending` (bad_response / transport_error) when it cannot be used. */
export async function downloadStatement(
  channel_id: StatementChannelId,
  url: string,
  expected: { bytes: number; sha256: string },
): Promise<StatementDownload | Pending> {
  const dir = await mkdtemp(join(tmpdir(), "paycore-statement-"));
  const path = join(dir, "statement.txt");
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    const checker = new LineChecker(statementParser(channel_id));
    const fetched = await spool(url, path, expected.bytes, checker);
    if ("status" in fetched) {
      await dispose();
      return fetched;
    }
    if (fetched.bytes !== expected.bytes || fetched.sha256 !== expected.sha256) {
      await dispose();
      return pending("bad_response", `statement file does not match its signed answer (${fetched.bytes} bytes, SHA-256 ${fetched.sha256.slice(0, 12)}…)`);
    }
    const line_count = checker.end();
    return { sha256: fetched.sha256, bytes: fetched.bytes, line_count, records: () => readRecords(channel_id, path), dispose };
  } catch (error) {
    await dispose();
    if (error instanceof StatementFormatError) return pending("bad_response", `statement file does not parse: ${error.message}`);
    throw error;
  }
}

async function spool(url: string, path: string, bytes_max: number, checker: LineChecker): Promise<{ bytes: number; sha256: string } | Pending> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(STATEMENT_DOWNLOAD_LIMITS.timeout_ms) });
  } catch (error) {
    return pending("transport_error", `statement file download: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (response.status !== 200 || !response.body) return pending("transport_error", `statement file download answered ${response.status}`);
  const hash = createHash("sha256");
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > bytes_max) return done(new Error(`statement file longer than the ${bytes_max} bytes its answer stated`));
      hash.update(chunk);
      checker.push(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), meter, createWriteStream(path));
  } catch (error) {
    return pending("transport_error", `statement file download: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { bytes, sha256: hash.digest("hex") };
}

const LINE_CHARS_MAX = 4_096;

/**
 * Cuts bytes into lines at "\n" (a "\r" before it dropped, empty lines skipped) as they come,
 * holding only the unfinished last line, at most `LINE_CHARS_MAX` characters of it.
 */
class LineSplitter {
  private readonly decoder = new StringDecoder("utf8");
  private rest = "";

  push(chunk: Buffer): string[] {
    const text = this.rest + this.decoder.write(chunk);
    const lines: string[] = [];
    let start = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
      addLine(lines, text.slice(start, nl));
      start = nl + 1;
    }
    this.rest = text.slice(start);
    if (this.rest.length > LINE_CHARS_MAX) throw new StatementFormatError(`a line longer than ${LINE_CHARS_MAX} characters`);
    return lines;
  }

  end(): string[] {
    const lines: string[] = [];
    addLine(lines, this.rest + this.decoder.end());
    this.rest = "";
    return lines;
  }
}

function addLine(lines: string[], raw: string): void {
  const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
  if (text !== "") lines.push(text);
}

/**
 * Checks a file's lines as its bytes arrive. The first bad line is kept, not thrown, so that the
 * download runs to its end and a file that is not the signed one is told as such first; `end`
 * throws it, or checks the file's own totals, and answers the count of records.
 */
class LineChecker {
  private readonly splitter = new LineSplitter();
  private records = 0;
  private error: unknown = null;

  constructor(private readonly parser: StatementParser) {}

  push(chunk: Buffer): void {
    if (this.error) return;
    try {
      for (const text of this.splitter.push(chunk)) if (this.parser.line(text)) this.records += 1;
    } catch (error) {
      this.error = error;
    }
  }

  end(): number {
    if (this.error) throw this.error;
    for (const text of this.splitter.end()) if (this.parser.line(text)) this.records += 1;
    this.parser.finish();
    return this.records;
  }
}

/**
 * The file's records, line by line (a header yields none); throws StatementFormatError on a bad
 * line or total. Pulls the spool a chunk at a time as records are asked for (readline's iterator
 * reads ahead of a slow consumer, and a consumer waiting on the database is slow).
 */
async function* readRecords(channel_id: StatementChannelId, path: string): AsyncGenerator<StatementRecord> {
  const parser = statementParser(channel_id);
  const splitter = new LineSplitter();
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) {
    for (const text of splitter.push(chunk as Buffer)) {
      const record = parser.line(text);
      if (record) yield record;
    }
  }
  for (const text of splitter.end()) {
    const record = parser.line(text);
    if (record) yield record;
  }
  parser.finish();
}
