import { createHash } from "node:crypto";

/**
 * Deterministic pseudo-random numbers (mulberry32) for everything the sandbox invents: the card
 * catalogue, OTPs, network ids, fault draws. Each purpose forks its own stream from the seed, so
 * one stream's consumption never shifts another's: the same seed gives the same catalogue however
 * many OTPs were drawn.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Where the stream is: `new Rng(position)` continues it (the sandbox keeps it across restarts). */
  get position(): number {
    return this.state;
  }

  static derive(seed: number, label: string): Rng {
    const digest = createHash("sha256").update(`${seed}/${label}`).digest();
    return new Rng(digest.readUInt32BE(0));
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, bound). */
  int(bound: number): number {
    return Math.floor(this.next() * bound);
  }

  between(low: number, high: number): number {
    return low + this.int(high - low + 1);
  }

  digits(count: number): string {
    let out = "";
    for (let i = 0; i < count; i++) out += String(this.int(10));
    return out;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }
}
