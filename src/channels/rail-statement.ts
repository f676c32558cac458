import type { Rail } from "../kernel/cnaps/hours.ts";
import { sm2Verify } from "../kernel/crypto/sm2.ts";
import type { NetworkKeys } from "./keys.ts";
import { downloadStatement, fileRef } from "./statement-download.ts";
import { pending } from "./support.ts";
import type { StatementResult } from "./types.ts";

/**
 * A CNAPS rail's daily statement file (reconciliation of payouts), fetched from the rails' front
 * end (the sandbox's `/cnaps/statements` in development and tests). The answer is one line naming
 * the file, its size, SHA-256 and line count, signed with the rails' SM2 key — the key their
 * ISO 20022 messages are signed with — and verified before anything in it is used; the file is
 * then streamed, checked against the answer and every line parsed (src/channels/statement-download.ts).
 * Not published yet → pending `processing` (late); a signature or file that does not check →
 * pending `bad_response` (refused).
 */
export type RailStatementFetcher = (rail: Rail, date: string) => Promise<StatementResult>;

const ANSWER_TIMEOUT_MS = 10_000;
const ANSWER_BYTES_MAX = 2_048;
const SIGNED_ANSWER = /^(RAILSTMT\|[^{}\n]{1,600})\{S:([A-Za-z0-9+/=]{16,400})\}\s*$/;

export function railStatementFetcher(base_url: string, network_keys: NetworkKeys): RailStatementFetcher {
  const base = base_url.replace(/\/+$/, "");
  return async (rail, date) => {
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${base}/cnaps/statements?rail=${rail}&date=${date}`, { signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) });
      text = await response.text();
    } catch (error) {
      return pending("transport_error", `rail statement: ${(error as Error).message}`);
    }
    if (response.status === 404) return pending("processing", `the ${rail} statement for ${date} is not published yet`);
    if (response.status !== 200 || text.length > ANSWER_BYTES_MAX) return pending("transport_error", `rail statement answered ${response.status}`);
    const signed = SIGNED_ANSWER.exec(text);
    const key = network_keys.netsunion();
    if (!signed || !key) return pending("bad_response", !key ? "the rails' public key is not in the exchange directory" : "rail statement answer is not signed");
    if (!sm2Verify(signed[1]!, Buffer.from(signed[2]!, "base64"), key.public_key_hex)) return pending("bad_response", "rail statement signature does not verify");
    const [, answered_rail, answered_date, name, bytes, sha256] = signed[1]!.split("|");
    if (answered_rail !== rail || answered_date !== date) return pending("bad_response", "rail statement answer is about another rail or day");
    const ref = fileRef({ name, bytes, sha256 });
    if (!ref) return pending("bad_response", "rail statement answer names no proper file");
    const file = await downloadStatement(rail, `${base}/cnaps/files/${ref.name}`, ref);
    return "status" in file ? file : { status: "succeeded", settlement_date: date, file };
  };
}
