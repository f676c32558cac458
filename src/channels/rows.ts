import type { ColumnType } from "kysely";

/** The `channels` table (migration 0100). Rows are their own type, separate from `Channel`. */
export interface ChannelRow {
  channel_id: string;
  kind: "agreement" | "payout";
  display_name: string;
  enabled: boolean;
  priority: number;
  cost_bps: number;
  cost_fixed_fen: bigint;
  unified_network: boolean;
  legacy: boolean;
  banks: string[] | null;
  endpoint_url: string | null;
  institution_id: string;
  timeout_ms: number;
  keys: ColumnType<Record<string, string>, string | undefined, string>;
  version: number;
  created_at: ColumnType<Date, Date | undefined, Date>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

// A type alias, not an interface: Kysely's `withTables<T>()` needs an index-signature-compatible type.
export type ChannelTables = {
  channels: ChannelRow;
};
