import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { statementParser, StatementFormatError, type StatementChannelId } from "./statement.ts";
import { pending } from "./support.ts";
import type { Pending, StatementFileStream, StatementRecord } from "./types.ts";

/**
 * A statement file, streamed. The network's signed answer names the file and states its SHA-256
 * and size; the file comes over a plain GET next to the message endpoint and is spooled to a
 * temporary file as it arrives (hashed on the way, never held in memory). It is then read once
 * to check every line and the file's own totals, so a file that does not match what the signed
 * answer said, or has a bad line anywhere, is refused before anything of it is used. The records
 * are then read a second time, line by line, by whoever loads them; `dispose()` removes the spool.
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
    const fetched = await spool(url, path, expected.bytes);
    if ("status" in fetched) {
      await dispose();
      return fetched;
    }
    if (fetched.bytes !== expected.bytes || fetched.sha256 !== expected.sha256) {
      await dispose();
      return pending("bad_response", `statement file does not match its signed answer (${fetched.bytes} bytes, SHA-256 ${fetched.sha256.slice(0, 12)}…)`);
    }
    let line_count = 0;
    for await (const _record of readRecords(channel_id, path)) line_count += 1;
    return { sha256: fetched.sha256, bytes: fetched.bytes, line_count, records: () => readRecords(channel_id, path), dispose };
  } catch (error) {
    await dispose();
    if (error instanceof StatementFormatError) return pending("bad_response", `statement file does not parse: ${error.message}`);
    throw error;
  }
}

async function spool(url: string, path: string, bytes_max: number): Promise<{ bytes: number; sha256: string } | Pending> {
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

/** The file's records, line by line (a header yields none); throws StatementFormatError on a bad line or total. */
async function* readRecords(channel_id: StatementChannelId, path: string): AsyncGenerator<StatementRecord> {
  const parser = statementParser(channel_id);
  const lines = createInterface({ input: createReadStream(path, { encoding: "utf8", highWaterMark: 256 * 1024 }), crlfDelay: Infinity });
  for await (const text of lines) {
    if (text === "") continue;
    const record = parser.line(text);
    if (record) yield record;
  }
  parser.finish();
}
