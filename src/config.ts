import { z } from "zod";
import { POOL_SIZE } from "./db/connect.ts";
import { parseAllowList } from "./kernel/net-guard.ts";

/**
 * All settings come from the environment (docs/api-conventions.md "Running it"), validated at start:
 * a bad value stops paycore with one clear line naming the variable.
 */
const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
const port = z.coerce.number().int().min(0).max(65_535);
/** A client timeout: at least 100 ms, at most 10 minutes (never 0: "no timeout" is not offered). */
const timeout_ms = z.coerce.number().int().min(100).max(600_000);

const ConfigSchema = z.object({
  PORT: port.default(3000),
  SANDBOX_PORT: port.default(3100),
  HOST: z.string().min(1).default("127.0.0.1"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  PAYCORE_DATA_DIR: z.string().min(1).default("./data"),
  PAYCORE_ADMIN_TOKEN: z.string().min(24, "must be at least 24 characters").max(256).optional(),
  PAYCORE_SEED_DEMO: bool.default(true),
  SANDBOX_URL: z.url({ protocol: /^https?$/ }).optional(),
  PAYCORE_MASTER_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex characters (32 bytes)")
    .optional(),
  PAYCORE_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  PAYCORE_KEY_GRACE_HOURS: z.coerce.number().min(0).max(24 * 30).default(24),
  PAYCORE_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
  PAYCORE_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(10 * 1024 * 1024).default(64 * 1024),
  PAYCORE_CONNECTION_TIMEOUT_MS: timeout_ms.default(60_000),
  PAYCORE_REQUEST_TIMEOUT_MS: timeout_ms.default(60_000),
  PAYCORE_BODY_TIMEOUT_MS: timeout_ms.default(30_000),
  /** Named prepared statements on PostgreSQL (src/db/prepared.ts); `false` behind a pooler that cannot keep them. */
  PAYCORE_PG_PREPARE: bool.default(true),
  /** PostgreSQL connections this process may open (docs/scaling.md "Connections"). */
  PAYCORE_PG_POOL_MAX: z.coerce.number().int().min(POOL_SIZE.min).max(POOL_SIZE.max).default(POOL_SIZE.default),
  PAYCORE_PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    .max(200)
    .refine((v) => {
      const u = new URL(v);
      return !u.username && !u.password && !u.search && !u.hash;
    }, "must be a plain http(s) base URL: no credentials, query or fragment")
    .transform((v) => v.replace(/\/+$/, ""))
    .optional(),
  PAYCORE_WEBHOOK_ALLOW_HOSTS: z
    .string()
    .max(4096)
    .transform((v, c) => {
      const entries = v.split(",").map((e) => e.trim()).filter(Boolean);
      try {
        parseAllowList(entries);
      } catch (err) {
        c.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
      return entries;
    })
    .optional(),
});

export interface Config {
  port: number;
  sandbox_port: number;
  host: string;
  database_url: string | undefined;
  pg_prepare: boolean;
  pg_pool_max: number;
  data_dir: string;
  admin_token: string | undefined;
  seed_demo: boolean;
  sandbox_url: string | undefined;
  master_key_hex: string | undefined;
  log_level: string;
  key_grace_ms: number;
  rate_limit_per_minute: number;
  body_limit_bytes: number;
  connection_timeout_ms: number;
  request_timeout_ms: number;
  body_timeout_ms: number;
  public_url: string | undefined;
  /** Unset (undefined) lets the demo allow this machine; see `settleDemoDefaults`. */
  webhook_allow_hosts: string[] | undefined;
}

export class ConfigError extends Error {}

const LOOPBACK_HOST_RE = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** What is wrong with a public URL for production, or null (docs/api-conventions.md "Running it"). */
export function publicUrlWarning(public_url: string | null): string | null {
  if (!public_url) return "PAYCORE_PUBLIC_URL is not set: campaigns are refused (their SMS links need paycore's public address)";
  const url = new URL(public_url);
  if (url.protocol === "http:" && !LOOPBACK_HOST_RE.test(url.hostname)) {
    return "PAYCORE_PUBLIC_URL is plain http on a host other than this machine: links sent to cardholders should be https";
  }
  return null;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = ConfigSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? "config");
    throw new ConfigError(`invalid configuration: ${name}=${JSON.stringify(present[name] ?? "")}: ${issue.message}`);
  }
  const c = parsed.data;
  return {
    port: c.PORT,
    sandbox_port: c.SANDBOX_PORT,
    host: c.HOST,
    database_url: c.DATABASE_URL,
    pg_prepare: c.PAYCORE_PG_PREPARE,
    pg_pool_max: c.PAYCORE_PG_POOL_MAX,
    data_dir: c.PAYCORE_DATA_DIR,
    admin_token: c.PAYCORE_ADMIN_TOKEN,
    seed_demo: c.PAYCORE_SEED_DEMO,
    sandbox_url: c.SANDBOX_URL,
    master_key_hex: c.PAYCORE_MASTER_KEY,
    log_level: c.PAYCORE_LOG_LEVEL,
    key_grace_ms: Math.round(c.PAYCORE_KEY_GRACE_HOURS * 3_600_000),
    rate_limit_per_minute: c.PAYCORE_RATE_LIMIT_PER_MINUTE,
    body_limit_bytes: c.PAYCORE_BODY_LIMIT_BYTES,
    connection_timeout_ms: c.PAYCORE_CONNECTION_TIMEOUT_MS,
    request_timeout_ms: c.PAYCORE_REQUEST_TIMEOUT_MS,
    body_timeout_ms: c.PAYCORE_BODY_TIMEOUT_MS,
    public_url: c.PAYCORE_PUBLIC_URL,
    webhook_allow_hosts: c.PAYCORE_WEBHOOK_ALLOW_HOSTS,
  };
}
