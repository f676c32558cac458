import { closeSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";

/**
 * An exclusive, advisory lock on a directory: a lock file created with O_EXCL holding the
 * owner's pid and what it wants others to know (for paycore: where its server listens). A file
 * left by a process that died is taken over. Node has no flock(2); the pid check is the portable
 * equivalent of what PostgreSQL's postmaster.pid does, and like it the take-over of a stale file
 * is not atomic against two processes starting in the same instant after a crash — the one that
 * loses sees the winner's file when it reads it back and stops.
 */
export interface LockInfo {
  pid: number;
  started_at: string;
  [key: string]: unknown;
}

export class DirectoryLockedError extends Error {
  constructor(
    readonly path: string,
    readonly holder: LockInfo,
  ) {
    super(`${path} is held by process ${holder.pid} (since ${holder.started_at})`);
    this.name = "DirectoryLockedError";
  }
}

export interface DirLock {
  readonly path: string;
  /** Rewrites the lock file's details (atomically: temp file, then rename). */
  update(details: Record<string, unknown>): void;
  release(): void;
}

const TAKEOVER_ATTEMPTS_MAX = 3;
/** Locks this process holds: a file naming our own pid is ours only if we took it. */
const held_here = new Set<string>();

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else — still a live holder.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The holder's details, or null when there is no lock file or its holder is gone. */
export function readLock(dir: string, name: string): LockInfo | null {
  let text: string;
  try {
    text = readFileSync(join(dir, name), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  let info: LockInfo;
  try {
    info = JSON.parse(text) as LockInfo;
  } catch {
    // Torn write by a holder that crashed while creating it: nobody holds it.
    return null;
  }
  const live = info.pid === process.pid ? held_here.has(join(dir, name)) : alive(info.pid);
  return live ? info : null;
}

/** Takes the lock or throws DirectoryLockedError naming the live holder. */
export function acquireDirLock(dir: string, name: string, details: Record<string, unknown> = {}): DirLock {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  const mine: LockInfo = { ...details, pid: process.pid, started_at: new Date().toISOString() };
  for (let attempt = 0; attempt < TAKEOVER_ATTEMPTS_MAX; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, JSON.stringify(mine));
      closeSync(fd);
      held_here.add(path);
      return handle(path, mine);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = readLock(dir, name);
    if (holder) throw new DirectoryLockedError(path, holder);
    try {
      unlinkSync(path); // stale: its process is gone
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  const holder = readLock(dir, name);
  throw new DirectoryLockedError(path, holder ?? { pid: 0, started_at: "unknown" });
}

function handle(path: string, mine: LockInfo): DirLock {
  let info = mine;
  let released = false;
  const onExit = () => release();
  const release = () => {
    if (released) return;
    released = true;
    held_here.delete(path);
    process.off("exit", onExit);
    try {
      const current = JSON.parse(readFileSync(path, "utf8")) as LockInfo;
      if (current.pid === process.pid) unlinkSync(path);
    } catch {
      // already gone
    }
  };
  process.on("exit", onExit);
  return {
    path,
    update(details) {
      info = { ...info, ...details, pid: mine.pid, started_at: mine.started_at };
      const temp = `${path}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify(info), { mode: 0o600 });
      renameSync(temp, path);
    },
    release,
  };
}
