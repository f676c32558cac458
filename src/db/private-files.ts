import { chmodSync, lstatSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { NodeFS } from "@electric-sql/pglite/nodefs";

/**
 * The embedded database's files are readable and writable by their owner only: directories 0700,
 * files 0600, like PostgreSQL's own data directory.
 *
 * PGlite's Emscripten file system (NODEFS) does not follow that on its own: it creates every
 * directory 0777 and chmods the initial cluster's files to 0666 (measured: 968 files 0666 and 27
 * directories 0755 in a fresh directory under umask 022), and files PostgreSQL opens with fopen
 * (the relcache init files) take 0666 less the process umask. A 077 umask around the open would not
 * help (the explicit chmods ignore it) and would be process-wide, so the mount itself strips the
 * group and other bits from every mode it creates or sets. Directories left by an earlier version
 * are fixed once when opened (`restrictTree`).
 */
export const OWNER_ONLY_MASK = 0o077;
/** Entries walked when fixing an existing directory; a PGlite cluster holds about a thousand. */
const TREE_ENTRIES_MAX = 1_000_000;

/** Creates `dir` (and parents) if missing and makes it 0700 whatever it was. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * Removes group and other permission bits from everything under `dir` (not following symbolic
 * links); returns how many entries it changed.
 */
export function restrictTree(dir: string): number {
  let changed = 0;
  let seen = 0;
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop() as string;
    for (const name of readdirSync(current)) {
      seen += 1;
      if (seen > TREE_ENTRIES_MAX) throw new Error(`${dir} holds more than ${TREE_ENTRIES_MAX} entries; not a PGlite directory?`);
      const path = join(current, name);
      const stat = lstatSync(path);
      if (stat.isSymbolicLink()) continue;
      if ((stat.mode & OWNER_ONLY_MASK) !== 0) {
        chmodSync(path, stat.mode & 0o7777 & ~OWNER_ONLY_MASK);
        changed += 1;
      }
      if (stat.isDirectory()) pending.push(path);
    }
  }
  return changed;
}

interface FsAttributes {
  mode?: number;
  [key: string]: unknown;
}

/** The part of Emscripten's NODEFS this file changes (not in PGlite's published types). */
interface NodeFsOps {
  node_ops: {
    mknod(parent: unknown, name: string, mode: number, dev: unknown): unknown;
    setattr(node: unknown, attr: FsAttributes): void;
  };
  stream_ops: {
    setattr(stream: unknown, attr: FsAttributes): void;
  };
}

const ownerOnly = (attr: FsAttributes): FsAttributes =>
  attr.mode === undefined ? attr : { ...attr, mode: attr.mode & ~OWNER_ONLY_MASK };

function restrictNodeFs(nodefs: NodeFsOps | undefined): void {
  const ops = nodefs?.node_ops;
  const stream_ops = nodefs?.stream_ops;
  if (typeof ops?.mknod !== "function" || typeof ops.setattr !== "function" || typeof stream_ops?.setattr !== "function") {
    throw new Error("PGlite's NODEFS has no mknod/setattr to restrict: the data directory's modes cannot be kept owner-only with this PGlite version");
  }
  const mknod = ops.mknod.bind(ops);
  const setattr = ops.setattr.bind(ops);
  const stream_setattr = stream_ops.setattr.bind(stream_ops);
  ops.mknod = (parent, name, mode, dev) => mknod(parent, name, mode & ~OWNER_ONLY_MASK, dev);
  ops.setattr = (node, attr) => setattr(node, ownerOnly(attr));
  stream_ops.setattr = (stream, attr) => stream_setattr(stream, ownerOnly(attr));
}

type InitOptions = Parameters<NodeFS["init"]>[1];
type PreRun = (module: { NODEFS?: unknown }) => void;

/** PGlite's Node file system with owner-only modes for everything it creates (one per PGlite instance). */
export class PrivateNodeFS extends NodeFS {
  override async init(pg: PGlite, options: InitOptions): ReturnType<NodeFS["init"]> {
    const result = await super.init(pg, options);
    const pre_run = (result.emscriptenOpts.preRun ?? []) as PreRun[];
    // Runs after NodeFS's own preRun mounted the directory, before PostgreSQL touches a file.
    const restrict: PreRun = (module) => restrictNodeFs(module.NODEFS as NodeFsOps | undefined);
    result.emscriptenOpts.preRun = [...pre_run, restrict] as typeof result.emscriptenOpts.preRun;
    return result;
  }
}
