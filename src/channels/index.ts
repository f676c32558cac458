export * from "./types.ts";
export { listChannels, getChannel, updateChannel, channelToWire, ChannelPatchSchema, CHANNEL_IDS, type Channel, type ChannelPatch } from "./config.ts";
export { createChannelAdapters, sandboxEndpoint, type AdapterDependencies } from "./registry.ts";
export { ensurePaycoreChannelKeys, NetworkKeys, KEY_FILES, type PaycoreChannelKeys } from "./keys.ts";
export { networkPost, type FetchLike } from "./http.ts";
export type { ChannelTables, ChannelRow } from "./rows.ts";
export { CHANNEL_LIMITS } from "./support.ts";
export { isRail, parseStatementText, statementParser, StatementFormatError, type StatementChannelId, type StatementParser } from "./statement.ts";
export { railStatementFetcher, type RailStatementFetcher } from "./rail-statement.ts";
