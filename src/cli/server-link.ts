import type { Config } from "../config.ts";
import { DATA_DIR_LOCK } from "../db/index.ts";
import { readLock, type LockInfo } from "../kernel/dir-lock.ts";

/**
 * The embedded database is one process's: while `paycore start` holds the data directory, the CLI
 * does what it is asked through the server's admin API, as the "paycore CLI" operator whose token
 * the server wrote into the lock file. Another holder (a `paycore migrate` still running) is
 * reported in one line.
 */
const CALL_TIMEOUT_MS = 10 * 60_000;

export interface ServerLink {
  url: string;
  pid: number;
  call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T>;
}

export class DataDirBusyError extends Error {}

/** The server answered an error: its status, code and own message (`message` says all three). */
export class ServerRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly server_message: string,
  ) {
    super(`the server answered ${status} ${code}: ${server_message}`);
    this.name = "ServerRefusal";
  }
}

/** Null when nothing holds the directory (the CLI opens the database itself). */
export function runningServer(config: Pick<Config, "database_url" | "data_dir">): ServerLink | null {
  if (config.database_url || config.data_dir === "memory") return null; // PostgreSQL is shared safely
  const holder = readLock(config.data_dir, DATA_DIR_LOCK);
  if (!holder) return null;
  if (typeof holder.url !== "string" || typeof holder.control_token !== "string") throw new DataDirBusyError(busyLine(config.data_dir, holder));
  return link(holder.url, holder.control_token, holder.pid);
}

export function busyLine(data_dir: string, holder: LockInfo): string {
  return typeof holder.url === "string"
    ? `the paycore server (pid ${holder.pid}, ${holder.url}) holds the data directory ${data_dir}; stop it first (operator create, settle, reconcile and ledger check talk to it instead)`
    : `another paycore process (pid ${holder.pid}) holds the data directory ${data_dir}; wait for it to finish`;
}

function link(url: string, token: string, pid: number): ServerLink {
  return {
    url,
    pid,
    async call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
      let res: Response;
      try {
        res = await fetch(url + path, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
        });
      } catch (err) {
        throw new DataDirBusyError(`the paycore server (pid ${pid}) holds the data directory but does not answer at ${url}: ${(err as Error).message}`);
      }
      const text = await res.text();
      const answer = text ? (JSON.parse(text) as T & { error?: { code: string; message: string } }) : ({} as T & { error?: { code: string; message: string } });
      if (!res.ok) throw new ServerRefusal(res.status, answer.error?.code ?? "", answer.error?.message ?? text);
      return answer;
    },
  };
}

/** Time between two reads of a run's progress while the server runs it. */
const PROGRESS_POLL_MS = 500;

/**
 * Waits for `posted` (a run the server does within one request) and meanwhile reads the run's row
 * every PROGRESS_POLL_MS with `poll`, so the CLI prints the server's progress with its own printer.
 * A poll that fails is skipped: progress is for people, the answer is what counts.
 */
export async function whileRunning<T>(posted: Promise<T>, poll: () => Promise<void>): Promise<T> {
  let finished = false;
  const answer = posted.finally(() => (finished = true));
  const polling = (async () => {
    while (!finished) {
      await new Promise((r) => setTimeout(r, PROGRESS_POLL_MS));
      if (!finished) await poll().catch(() => undefined);
    }
  })();
  const [value] = await Promise.all([answer, polling]);
  return value;
}
