import { describe, expect, it } from "vitest";
import { PaycoreError } from "./errors.ts";
import { ThrottledProgress, progressErrorText, type ProgressPoint } from "./progress.ts";

describe("ThrottledProgress", () => {
  it("writes on a phase change, every N items, at completion, and the last skipped point on flush, in order", async () => {
    const written: ProgressPoint[] = [];
    const now = 0;
    const p = new ThrottledProgress(async (point) => void written.push(point), () => now, (err) => { throw err; }, { every_items: 10, every_ms: 1_000 });
    for (let done = 0; done <= 25; done++) p.note({ phase: "settle", done, total: 30 });
    p.note({ phase: "payout", done: 1, total: 2 });
    p.note({ phase: "payout", done: 2, total: 2 });
    p.note({ phase: "loading", done: 3, total: null });
    p.note({ phase: "loading", done: 4, total: null });
    await p.flush();
    expect(written.map((w) => `${w.phase}:${w.done}`)).toEqual(["settle:0", "settle:10", "settle:20", "payout:1", "payout:2", "loading:3", "loading:4"]);
  });

  it("writes after every_ms even below every_items (a heartbeat), and reports a failed write without throwing", async () => {
    const errors: string[] = [];
    let now = 0;
    let calls = 0;
    const p = new ThrottledProgress(async () => { calls += 1; if (calls === 2) throw new Error("db down"); }, () => now, (err) => errors.push(err.message), { every_items: 100, every_ms: 1_000 });
    p.note({ phase: "a", done: 1, total: 9 });
    now = 999;
    p.note({ phase: "a", done: 2, total: 9 });
    now = 1_000;
    p.note({ phase: "a", done: 3, total: 9 });
    now = 2_000;
    p.note({ phase: "a", done: 4, total: 9 });
    await p.flush();
    expect(calls).toBe(3);
    expect(errors).toEqual(["db down"]);
  });

  it("shows a paycore error's code and message, never another error's text", () => {
    expect(progressErrorText(new PaycoreError("channel_unavailable", "file refused"))).toBe("channel_unavailable: file refused");
    expect(progressErrorText(new Error('duplicate key value (card)=(6222…)'))).toBe("internal error: see the log of the process that ran it");
  });
});
