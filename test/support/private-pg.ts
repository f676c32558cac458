import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCommand } from "./run.ts";

/**
 * A PostgreSQL cluster of the test's own (initdb in a temporary directory, a free port on
 * 127.0.0.1), so that a test can stop and restart the database under a running paycore without
 * touching the machine's shared server. As root, the server runs as the `postgres` user (it
 * refuses to run as root).
 */
export interface PrivateCluster {
  url: string;
  port: number;
  /** Fast shutdown (`pg_ctl stop -m fast`): sessions are ended, transactions rolled back. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server if it runs and removes its files. */
  destroy(): Promise<void>;
}

const PG_CTL_WAIT_S = 60;

export function postgresBinDir(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startPrivateCluster(): Promise<PrivateCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("no PostgreSQL server binaries under /usr/lib/postgresql");
  const dir = mkdtempSync(join(tmpdir(), "paycore-pg-"));
  const data = join(dir, "data");
  const is_root = process.getuid?.() === 0;
  const as_owner = (cmd: string, args: string[]) =>
    is_root ? execFileSync("runuser", ["-u", "postgres", "--", join(bin, cmd), ...args], { stdio: "pipe" }) : execFileSync(join(bin, cmd), args, { stdio: "pipe" });
  if (is_root) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  as_owner("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--no-instructions"]);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60`;
  // pg_ctl runs asynchronously: a synchronous child process would block a Vitest worker's RPC.
  const pg_ctl = async (args: string[]) => {
    const [cmd, cmd_args] = is_root ? ["runuser", ["-u", "postgres", "--", join(bin, "pg_ctl"), ...args]] : [join(bin, "pg_ctl"), args];
    const r = await runCommand(cmd as string, cmd_args as string[], { timeout_ms: (PG_CTL_WAIT_S + 10) * 1000 });
    if (r.status !== 0) throw new Error(`pg_ctl ${args.at(-1)}: ${r.stderr || r.stdout}`);
  };
  const start = () => pg_ctl(["-D", data, "-o", options, "-l", join(dir, "server.log"), "-w", "-t", String(PG_CTL_WAIT_S), "start"]);
  const stop = () => pg_ctl(["-D", data, "-m", "fast", "-w", "-t", String(PG_CTL_WAIT_S), "stop"]);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    destroy: async () => {
      try {
        await stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
