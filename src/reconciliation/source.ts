import { isRail, type StatementChannelId, type StatementRecord, type StatementResult } from "../channels/index.ts";
import { callChannel, type PaymentDeps } from "../payments/deps.ts";

/**
 * A day's statement file, fetched over the channel's adapter: signed and verified like every other
 * message of that network. A file that does not verify or does not parse is refused (never
 * half-read); one the network has not published yet is late.
 */
export interface StatementFile {
  /** SHA-256 of the verified file, or null for a stream whose digest is not known up front. */
  sha256: string | null;
  records: Iterable<StatementRecord> | AsyncIterable<StatementRecord>;
  /** Frees what holds the file (the download's spool), once the run is done with it. */
  dispose?: () => Promise<void>;
}

export type FetchedFile =
  | { ok: true; file: StatementFile }
  | { ok: false; problem: "late" | "refused" | "unavailable"; message: string };

export async function fetchStatementFile(deps: PaymentDeps, channel_id: StatementChannelId, date: string): Promise<FetchedFile> {
  const result = await fetchResult(deps, channel_id, date);
  if (!result) return { ok: false, problem: "unavailable", message: `no rails front end to fetch the ${channel_id} statement from` };
  switch (result.status) {
    case "succeeded":
      return { ok: true, file: { sha256: result.file.sha256, records: result.file.records(), dispose: () => result.file.dispose() } };
    case "failed":
      return { ok: false, problem: "unavailable", message: `${channel_id} refused the file request: ${result.message}` };
    case "pending":
      switch (result.cause) {
        case "processing":
          return { ok: false, problem: "late", message: `${channel_id} has not published the file for ${date} yet` };
        case "bad_response":
          return { ok: false, problem: "refused", message: `${channel_id} file for ${date} refused: ${result.message}` };
        case "timeout":
        case "transport_error":
        case "unclassified":
          return { ok: false, problem: "unavailable", message: `${channel_id} file for ${date} not fetched: ${result.message}` };
      }
  }
}

/** A network's file over its adapter; a rail's from the rails' front end (null: none configured). */
async function fetchResult(deps: PaymentDeps, channel_id: StatementChannelId, date: string): Promise<StatementResult | null> {
  if (!isRail(channel_id)) return callChannel(deps, channel_id, (adapter) => adapter.fetchStatement({ settlement_date: date }));
  const fetcher = deps.channels.railStatement;
  return fetcher ? fetcher(channel_id, date) : null;
}
