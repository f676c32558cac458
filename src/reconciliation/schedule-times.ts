import { businessDayClosesAt } from "../ledger/index.ts";
import type { ReconciliationSettings } from "./settings.ts";

/** When day `date`'s file is expected: its cut-off plus the channel's file delay. */
export function fileDueAt(settings: Pick<ReconciliationSettings, "cutoff_minutes" | "file_ready_minutes">, date: string): Date {
  return new Date(businessDayClosesAt(date, settings.cutoff_minutes).getTime() + settings.file_ready_minutes * 60_000);
}

/** After this, a file not yet in is late (an alert). */
export function fileLateAt(settings: Pick<ReconciliationSettings, "cutoff_minutes" | "file_ready_minutes" | "file_late_minutes">, date: string): Date {
  return new Date(fileDueAt(settings, date).getTime() + settings.file_late_minutes * 60_000);
}
