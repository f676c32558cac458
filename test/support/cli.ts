import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { testDatabaseUrl } from "./db.ts";
import { PaycoreClient, type Credentials } from "../../src/client/index.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const CLI = join(ROOT, "src", "cli", "main.ts");
const STARTUP_WAIT_MS_MAX = 120_000; // a bound for a busy machine, not a speed

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `paycore <args>` to completion (bounded). */
export function runCli(args: string[], env: Record<string, string | undefined>, timeout_ms = 60_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`paycore ${args.join(" ")} did not finish in ${timeout_ms} ms`));
    }, timeout_ms);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface RunningCli {
  child: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** How to run the CLI: from the TypeScript sources through tsx (tests), or as `npm start` does. */
export const FROM_SOURCES = ["--import", "tsx", CLI];
export const AS_NPM_START = [join(ROOT, "bin", "paycore.js")];

/** Starts `paycore start` and waits for its banner. */
export async function startCli(env: Record<string, string | undefined>, command = FROM_SOURCES): Promise<RunningCli & { banner: string }> {
  const child = spawn(process.execPath, [...command, "start"], { cwd: ROOT, env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const deadline = Date.now() + STARTUP_WAIT_MS_MAX;
  while (!/paycore is running[\s\S]*\n\n/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`paycore start failed:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    banner: out,
    output: () => out,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

function cleanEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_OPTIONS: "" };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) base[k] = v;
  return base;
}

/** A place for one CLI test's data: a temp directory, and on a PostgreSQL run a fresh database. */
export async function cliStorage(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "paycore-cli-"));
  const url = testDatabaseUrl();
  if (!url) return { env: { PAYCORE_DATA_DIR: dir }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  const name = `paycore_cli_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const db_url = new URL(url);
  db_url.pathname = `/${name}`;
  return {
    env: { PAYCORE_DATA_DIR: dir, DATABASE_URL: db_url.toString() },
    cleanup: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One value from `paycore start`'s banner (the first group of `re`); throws with the banner if absent. */
export function bannerField(banner: string, re: RegExp): string {
  const m = re.exec(banner);
  if (!m) throw new Error(`not in banner: ${re}\n${banner}`);
  return m[1]!;
}

/** The demo merchant IDs' credentials the banner prints, in its order. */
export function bannerCredentials(banner: string): Credentials[] {
  return [...banner.matchAll(/mch_id=(\S+)\s+key_id=(\S+)\s+secret=(\S+)/g)].map((m) => ({ mch_id: m[1]!, key_id: m[2]!, secret: m[3]! }));
}

/** Where `paycore start` says to look, and a client signed as the first demo merchant ID. */
export function readBanner(banner: string): { api: string; sandbox_url: string; token: string; demo: Credentials; client: PaycoreClient } {
  const api = bannerField(banner, /API\s+(http:\/\/\S+)/);
  const demo = bannerCredentials(banner)[0];
  if (!demo) throw new Error(`no demo credentials in banner\n${banner}`);
  return { api, sandbox_url: bannerField(banner, /Sandbox\s+(http:\/\/\S+)/), token: bannerField(banner, /Operator token (\S+)/), demo, client: new PaycoreClient(api, demo) };
}
