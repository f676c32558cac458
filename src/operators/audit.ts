import { toPage } from "../db/paging.ts";
import type { Kysely } from "kysely";
import type { Database } from "../db/index.ts";
import { newId } from "../kernel/ids.ts";
import { LIMITS } from "../kernel/limits.ts";
import { redact } from "../kernel/mask.ts";

export interface AuditEntry {
  operator_id: string;
  action: string;
  target_type: string;
  target_id: string;
  before: unknown;
  after: unknown;
  request_id: string;
}

function bounded(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  const cleaned = redact(value);
  const text = JSON.stringify(cleaned);
  return text.length > LIMITS.audit_diff_bytes_max ? { truncated: true, bytes: text.length } : cleaned;
}

/** Written in the same transaction as the change it records: no change without its record. */
export async function recordAudit(trx: Kysely<Database>, entry: AuditEntry, at: Date): Promise<void> {
  await trx
    .insertInto("audit_log")
    .values({
      audit_id: newId("aud", at.getTime()),
      operator_id: entry.operator_id,
      action: entry.action,
      target_type: entry.target_type,
      target_id: entry.target_id,
      before: JSON.stringify(bounded(entry.before)),
      after: JSON.stringify(bounded(entry.after)),
      request_id: entry.request_id,
      created_at: at,
    })
    .execute();
}

export interface AuditQuery {
  target_type?: string | undefined;
  target_id?: string | undefined;
  operator_id?: string | undefined;
  action?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

export async function listAudit(db: Kysely<Database>, q: AuditQuery) {
  let query = db.selectFrom("audit_log").selectAll().orderBy("audit_id", "desc").limit(q.limit + 1);
  if (q.target_type) query = query.where("target_type", "=", q.target_type);
  if (q.target_id) query = query.where("target_id", "=", q.target_id);
  if (q.operator_id) query = query.where("operator_id", "=", q.operator_id);
  if (q.action) query = query.where("action", "=", q.action);
  if (q.cursor) query = query.where("audit_id", "<", q.cursor);
  return toPage(await query.execute(), q.limit, (r) => r.audit_id);
}
