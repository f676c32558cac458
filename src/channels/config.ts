import type { Kysely, Selectable } from "kysely";
import { z } from "zod";
import type { Database } from "../db/schema.ts";
import { PaycoreError, invalidRequest, notFound } from "../kernel/errors.ts";
import { fenToWire } from "../kernel/money.ts";
import type { ChannelRow, ChannelTables } from "./rows.ts";
import { AGREEMENT_CHANNEL_IDS, PAYOUT_CHANNEL_IDS, type ChannelId } from "./types.ts";

/** A channel's configuration, as the rest of paycore sees it. */
export interface Channel {
  channel_id: ChannelId;
  kind: "agreement" | "payout";
  display_name: string;
  enabled: boolean;
  priority: number;
  cost_bps: number;
  cost_fixed_fen: bigint;
  unified_network: boolean;
  legacy: boolean;
  banks: readonly string[] | null;
  endpoint_url: string | null;
  institution_id: string;
  timeout_ms: number;
  keys: Readonly<Record<string, string>>;
  version: number;
  updated_at: Date;
}

export const CHANNEL_IDS: readonly ChannelId[] = [...AGREEMENT_CHANNEL_IDS, ...PAYOUT_CHANNEL_IDS];
const COST_FIXED_FEN_MAX = 100_000_000n;
const BANKS_MAX = 64;

function isChannelId(value: string): value is ChannelId {
  return (CHANNEL_IDS as readonly string[]).includes(value);
}

function fromRow(row: Selectable<ChannelRow>): Channel {
  if (!isChannelId(row.channel_id)) throw new PaycoreError("internal", `unknown channel ${row.channel_id} in the database`);
  return {
    channel_id: row.channel_id, kind: row.kind, display_name: row.display_name, enabled: row.enabled, priority: row.priority,
    cost_bps: row.cost_bps, cost_fixed_fen: row.cost_fixed_fen, unified_network: row.unified_network, legacy: row.legacy,
    banks: row.banks, endpoint_url: row.endpoint_url, institution_id: row.institution_id, timeout_ms: row.timeout_ms,
    keys: row.keys, version: row.version, updated_at: row.updated_at,
  };
}

function tables(db: Kysely<Database>): Kysely<Database & ChannelTables> {
  return db.withTables<ChannelTables>();
}

export async function listChannels(db: Kysely<Database>): Promise<Channel[]> {
  const rows = await tables(db).selectFrom("channels").selectAll().orderBy("kind").orderBy("priority").orderBy("channel_id").execute();
  return rows.map(fromRow);
}

export async function getChannel(db: Kysely<Database>, channel_id: string): Promise<Channel> {
  const row = await tables(db).selectFrom("channels").selectAll().where("channel_id", "=", channel_id).executeTakeFirst();
  if (!row) throw notFound(`channel ${channel_id}`);
  return fromRow(row);
}

/** What an operator may change (admin API `PATCH /admin/v1/channels/{id}`). */
export const ChannelPatchSchema = z.object({
  enabled: z.boolean().optional(),
  priority: z.number().int().min(0).max(1000).optional(),
  cost_bps: z.number().int().min(0).max(10_000).optional(),
  cost_fixed_fen: z.union([z.bigint(), z.number().int()]).transform((v) => BigInt(v)).pipe(z.bigint().min(0n).max(COST_FIXED_FEN_MAX)).optional(),
  timeout_ms: z.number().int().min(100).max(120_000).optional(),
  endpoint_url: z.url({ protocol: /^https?$/ }).max(2048).nullable().optional(),
  banks: z.array(z.string().regex(/^[A-Z]{2,10}$/)).max(BANKS_MAX).nullable().optional(),
}).strict();
export type ChannelPatch = z.input<typeof ChannelPatchSchema>;

/**
 * Applies a patch and returns the channel as it now is. Bad input throws `invalid_request` naming
 * the field; an unknown id throws `not_found`. Auditing is the caller's (the admin API's) job.
 */
export async function updateChannel(db: Kysely<Database>, channel_id: string, patch: unknown): Promise<Channel> {
  const parsed = ChannelPatchSchema.safeParse(patch);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalidRequest(issue.path.join(".") || "body", issue.message);
  }
  const changes = Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined));
  if (Object.keys(changes).length === 0) return getChannel(db, channel_id);
  const row = await tables(db)
    .updateTable("channels")
    .set((eb) => ({ ...changes, version: eb("version", "+", 1), updated_at: new Date() }))
    .where("channel_id", "=", channel_id)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw notFound(`channel ${channel_id}`);
  return fromRow(row);
}

/** The JSON form for the admin API: money as integer fen. */
export function channelToWire(channel: Channel): Record<string, unknown> {
  return {
    channel_id: channel.channel_id, kind: channel.kind, display_name: channel.display_name, enabled: channel.enabled,
    priority: channel.priority, cost_bps: channel.cost_bps, cost_fixed_fen: fenToWire(channel.cost_fixed_fen),
    unified_network: channel.unified_network, legacy: channel.legacy, banks: channel.banks, endpoint_url: channel.endpoint_url,
    institution_id: channel.institution_id, timeout_ms: channel.timeout_ms, version: channel.version, updated_at: channel.updated_at.toISOString(),
  };
}
