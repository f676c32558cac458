import { readFileSync, statSync } from "node:fs";

/**
 * How long a key is used without looking at its file again, when nothing says it changed. Two
 * system calls (access, stat) per message were about 2 % of a process's CPU per payment.
 */
export const KEY_FILE_RECHECK_MS = 1_000;

/**
 * How to look for a key: `cached` looks at the file at most once per KEY_FILE_RECHECK_MS;
 * `{ key_id }` too, but at once when the known key has another id (a message signed with a rotated
 * key); `fresh` looks now (before encrypting to the key, or when nothing names one).
 */
export type KeyLookup = "cached" | "fresh" | { key_id: string };

/**
 * A public key read from a file its owner may write or rewrite at any time (the other side of the
 * key exchange, docs/sandbox.md "Keys"): absent or unparsable is no key (null). The file is read
 * again only when its modification time or size changed.
 */
export class WatchedKeyFile<T extends object> {
  private stamp = "";
  private value: T | null = null;
  /** now_ms() of the last look at the file; 0: never. */
  private checked_at_ms = 0;

  constructor(
    private readonly path: string,
    private readonly parse: (text: string) => T,
    private readonly idOf: (key: T) => string,
    private readonly now_ms: () => number = Date.now,
  ) {}

  get(lookup: KeyLookup = "cached"): T | null {
    if (lookup !== "fresh" && this.recent() && (lookup === "cached" || (this.value !== null && this.idOf(this.value) === lookup.key_id))) return this.value;
    this.refresh();
    return this.value;
  }

  private recent(): boolean {
    const age_ms = this.now_ms() - this.checked_at_ms;
    return this.checked_at_ms > 0 && age_ms >= 0 && age_ms < KEY_FILE_RECHECK_MS;
  }

  private refresh(): void {
    this.checked_at_ms = this.now_ms();
    const info = statSync(this.path, { throwIfNoEntry: false });
    if (!info) {
      this.stamp = "";
      this.value = null; // absent: not yet published, or withdrawn
      return;
    }
    // A file renamed into place is a new inode, possibly with the same size and time.
    const stamp = `${info.ino}:${info.mtimeMs}:${info.size}`;
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    try {
      this.value = this.parse(readFileSync(this.path, "utf8"));
    } catch {
      this.value = null; // an unreadable key is no key: messages signed with it fail
    }
  }
}
