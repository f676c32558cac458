export { connect, openPGlite, type ConnectOptions, type DatabaseHandle, type Engine } from "./connect.ts";
export { migrate, loadMigrations } from "./migrate.ts";
export type * from "./schema.ts";
export { SQLSTATE, isUniqueViolation, sqlState } from "./errors.ts";
