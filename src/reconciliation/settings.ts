import type { Kysely } from "kysely";
import type { Database, ReconciliationSettingsRow } from "../db/index.ts";
import { AGREEMENT_CHANNEL_IDS } from "../channels/index.ts";
import { RAILS } from "../kernel/cnaps/hours.ts";

/**
 * Per channel: when its file is due and how reconciliation treats it. Defaults here; operators
 * change them with `PATCH /admin/v1/reconciliation-settings/{channel_id}` (stored per channel).
 */
export type ReconciliationSettings = Omit<ReconciliationSettingsRow, "updated_at">;

export const DEFAULT_RECONCILIATION_SETTINGS: Omit<ReconciliationSettings, "channel_id"> = {
  enabled: true,
  // The networks' day ends at 23:00 Beijing time.
  cutoff_minutes: 23 * 60,
  // Files are published in the small hours: expected 3 h after the cut-off (02:00), late 2 h later.
  file_ready_minutes: 180,
  file_late_minutes: 120,
  // Payments of the last 10 minutes before the cut-off may sit in the next day's file.
  near_cutoff_minutes: 10,
  buffer_business_days: 1,
  // Write-offs from 1,000.00 yuan need a second operator.
  write_off_four_eyes_min: 100_000n,
};

/** Channels reconciliation fetches and reads: the agreement networks, and the CNAPS rails (payouts). */
export const RECONCILED_CHANNELS: readonly string[] = [...AGREEMENT_CHANNEL_IDS, ...RAILS];

export async function loadSettings(db: Kysely<Database>, channel_id: string): Promise<ReconciliationSettings> {
  const row = await db.selectFrom("reconciliation_settings").selectAll().where("channel_id", "=", channel_id).executeTakeFirst();
  if (!row) return { channel_id, ...DEFAULT_RECONCILIATION_SETTINGS };
  const { updated_at: _ignored, ...settings } = row;
  return settings;
}

export async function listSettings(db: Kysely<Database>): Promise<ReconciliationSettings[]> {
  const out: ReconciliationSettings[] = [];
  for (const channel_id of RECONCILED_CHANNELS) out.push(await loadSettings(db, channel_id));
  return out;
}

export async function updateSettings(db: Kysely<Database>, channel_id: string, patch: Partial<Omit<ReconciliationSettings, "channel_id">>, at: Date): Promise<ReconciliationSettings> {
  const next = { ...(await loadSettings(db, channel_id)), ...patch };
  await db
    .insertInto("reconciliation_settings")
    .values({ ...next, updated_at: at })
    .onConflict((oc) => oc.column("channel_id").doUpdateSet({ ...patch, updated_at: at }))
    .execute();
  return next;
}
