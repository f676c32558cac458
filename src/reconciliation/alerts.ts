import { sql, type Kysely } from "kysely";
import type { Database, ReconciliationAlertRow } from "../db/index.ts";
import { newId } from "../kernel/ids.ts";
import type { Logger } from "../kernel/log.ts";

export type AlertKind = ReconciliationAlertRow["kind"];

/**
 * An alert operators must see: written once per channel, day and kind (repeats count up), and
 * logged at error level for whatever watches the logs. `GET /admin/v1/reconciliation-alerts`.
 */
export async function raiseAlert(
  db: Kysely<Database>,
  log: Logger,
  alert: { channel_id: string; settlement_date: string; kind: AlertKind; message: string },
  at: Date,
): Promise<void> {
  log.error({ alert: `reconciliation.${alert.kind}`, channel_id: alert.channel_id, settlement_date: alert.settlement_date }, alert.message);
  await db
    .insertInto("reconciliation_alerts")
    .values({ alert_id: newId("rca", at.getTime()), ...alert, message: alert.message.slice(0, 500), occurrences: 1, created_at: at, updated_at: at })
    .onConflict((oc) =>
      oc.columns(["channel_id", "settlement_date", "kind"]).doUpdateSet({
        message: alert.message.slice(0, 500),
        occurrences: sql`reconciliation_alerts.occurrences + 1`,
        updated_at: at,
      }),
    )
    .execute();
}

export async function listAlerts(db: Kysely<Database>, filter: { channel_id?: string | undefined; date?: string | undefined; cursor?: string | undefined; limit: number }) {
  let q = db.selectFrom("reconciliation_alerts").selectAll().orderBy("alert_id", "desc").limit(filter.limit + 1);
  if (filter.channel_id) q = q.where("channel_id", "=", filter.channel_id);
  if (filter.date) q = q.where("settlement_date", "=", filter.date);
  if (filter.cursor) q = q.where("alert_id", "<", filter.cursor);
  return q.execute();
}
