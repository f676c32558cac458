export { connect, DATA_DIR_LOCK, openPGlite, poolStats, type ConnectOptions, type DatabaseHandle, type Engine, type PoolStats } from "./connect.ts";
export { migrate, loadMigrations } from "./migrate.ts";
export type * from "./schema.ts";
export { countStatements, runCounted, type StatementCounts } from "./stats.ts";
export { SQLSTATE, isUniqueViolation, sqlState } from "./errors.ts";
