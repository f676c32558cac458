import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/kernel/log.ts";
import { SANDBOX_LIMITS } from "../../src/sandbox/limits.ts";
import { SandboxState, encode } from "../../src/sandbox/persistence.ts";
import { addCard, latestOtp, startTestSandbox } from "../support/sandbox.ts";

const log = createLogger("silent");
const dirs: string[] = [];
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "paycore-state-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const FOLD_TURNS_MAX = 100_000;
/** Lets a fold in progress finish: it writes its snapshot a piece per turn of the event loop. */
async function settle(state: SandboxState): Promise<void> {
  for (let turn = 0; state.folding; turn++) {
    if (turn >= FOLD_TURNS_MAX) throw new Error("the fold never finished");
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe("sandbox state store", () => {
  it("keeps tables of plain values, bigint and Date included, across close and open", () => {
    const dir = freshDir();
    const first = SandboxState.open(dir, log);
    const rails = first.table<{ cost_fen: bigint; at: Date; name: string }>("payouts.rails");
    rails.set("hvps", { cost_fen: 2_000n, at: new Date("2026-05-02T03:00:00Z"), name: "大额" });
    rails.set("beps", { cost_fen: 50n, at: new Date("2026-05-02T03:00:00Z"), name: "小额" });
    rails.delete("beps");
    first.close();

    const second = SandboxState.open(dir, log);
    const again = second.table<{ cost_fen: bigint; at: Date; name: string }>("payouts.rails");
    expect([...again.entries()]).toEqual([["hvps", { cost_fen: 2_000n, at: new Date("2026-05-02T03:00:00Z"), name: "大额" }]]);
    second.close();
  });

  it("after a crash, replays the journal and drops only a torn last line", () => {
    const dir = freshDir();
    const first = SandboxState.open(dir, log);
    const t = first.table<number>("counters");
    t.set("a", 1);
    t.set("a", 2);
    t.set("b", 3);
    t.flush(); // what every answer does before it leaves
    t.set("d", 4); // never flushed: nobody was told of it, and a crash may lose it
    // No close(): the process "dies" here, mid-way through appending a line.
    appendFileSync(join(dir, "sandbox", "state", "journal.ndjson"), '{"t":"counters","k":"c","v":');
    (first as unknown as { lock: { release(): void } }).lock.release();

    const second = SandboxState.open(dir, log);
    expect(Object.fromEntries(second.table<number>("counters").entries())).toEqual({ a: 2, b: 3 });
    second.close();
  });

  it("refuses a second holder of the same state, and memory writes nothing", () => {
    const dir = freshDir();
    const held = SandboxState.open(dir, log);
    expect(() => SandboxState.open(dir, log)).toThrow(/another sandbox \(pid \d+\) already runs on/);
    held.close();
    SandboxState.open(dir, log).close();

    const memory = SandboxState.inMemory();
    memory.table<number>("x").set("k", 1);
    expect(memory.table<number>("x").get("k")).toBe(1);
    memory.close();
    expect(memory.persistent).toBe(false);
  });

  it("folds the journal into a snapshot past its size limit, so it stays bounded", () => {
    const dir = freshDir();
    const state = SandboxState.open(dir, log);
    const t = state.table<string>("big");
    const value = "x".repeat(64 * 1024);
    const writes = Math.ceil(SANDBOX_LIMITS.state_journal_bytes_max / value.length) + 5;
    for (let i = 0; i < writes; i++) t.set(String(i % 10), value);
    expect(statSync(join(dir, "sandbox", "state", "journal.ndjson")).size).toBeLessThanOrEqual(SANDBOX_LIMITS.state_journal_bytes_max + value.length + 100);
    state.close();
    const reopened = SandboxState.open(dir, log);
    expect(reopened.table<string>("big").size).toBe(10);
    reopened.close();
  });

  it("writes a snapshot in pieces with the very text of encoding the world at once", () => {
    const dir = freshDir();
    const state = SandboxState.open(dir, log);
    const odd = state.table<unknown>('odd "table"\n');
    const rows: [string, unknown][] = [
      ["plain", { amount_fen: 12n, at: new Date("2026-12-02T19:00:00Z"), skipped: undefined, list: [1, undefined, "支付"], nested: { deep: [{ x: null }] } }],
      ['key "quoted" \u2028 ☃', "text with \" and \\ and \u0001"],
      ["empty", {}],
    ];
    for (const [key, value] of rows) odd.set(key, value);
    const big = state.table<string>("big");
    const big_rows: [string, string][] = Array.from({ length: 400 }, (_, i) => [`row${i}`, `${i}:${"v".repeat(5_000)}`]);
    for (const [key, value] of big_rows) big.set(key, value); // 2 MB: more than one piece
    state.table<number>("none"); // an empty table
    state.close();
    const expected = encode({ version: 1, tables: { 'odd "table"\n': rows, big: big_rows, none: [] } });
    expect(readFileSync(join(dir, "sandbox", "state", "snapshot.json"), "utf8")).toBe(expected);
    const reopened = SandboxState.open(dir, log);
    expect(reopened.table<string>("big").get("row399")).toBe(big_rows[399]![1]);
    expect(reopened.table<{ amount_fen: bigint }>('odd "table"\n').get("plain")?.amount_fen).toBe(12n);
    reopened.close();
  });

  it("folds a journal only once it is as large as the last snapshot, when the world outgrew the limit", async () => {
    const dir = freshDir();
    const state_dir = join(dir, "sandbox", "state");
    const state = SandboxState.open(dir, log, { journal_bytes_max: 4096 });
    const t = state.table<string>("world");
    for (let i = 0; i < 200; i++) {
      t.set(`k${i}`, `${i}:${"y".repeat(200)}`);
      t.flush();
      await settle(state);
    }
    const snapshot = statSync(join(state_dir, "snapshot.json")).size;
    expect(snapshot).toBeGreaterThan(4 * 4096); // a world larger than the limit
    // One key changed over and over: the journal grows past the fixed limit up to the snapshot's
    // size (the old rule folded the whole world again every 4 KB), and is folded there.
    let journal_max = 0;
    let folded = false;
    for (let i = 0; i < 400 && !folded; i++) {
      t.set("k0", `changed ${i}:${"z".repeat(200)}`);
      t.flush();
      await settle(state);
      const journal = statSync(join(state_dir, "journal.ndjson")).size;
      folded = journal < journal_max;
      journal_max = Math.max(journal_max, journal);
    }
    expect(folded).toBe(true);
    expect(journal_max).toBeGreaterThan(snapshot - 300);
    expect(journal_max).toBeLessThanOrEqual(statSync(join(state_dir, "snapshot.json")).size + 300);
    t.set("k1", "last");
    t.flush();
    state.close();
    const reopened = SandboxState.open(dir, log);
    const world = reopened.table<string>("world");
    expect(world.size).toBe(200);
    expect(world.get("k0")).toMatch(/^changed \d+:z+$/);
    expect(world.get("k1")).toBe("last");
    expect(world.get("k199")).toBe(`199:${"y".repeat(200)}`);
    reopened.close();
  });
});

describe("sandbox journal fold in steps", () => {
  async function foldingWorld(dir: string) {
    const state = SandboxState.open(dir, log, { journal_bytes_max: 64 * 1024 });
    const t = state.table<string>("world");
    // Rows of 100 bytes: the fold writes snapshot_rows_per_turn of them per turn, so it takes several.
    const rows = SANDBOX_LIMITS.snapshot_rows_per_turn * 4;
    for (let i = 0; i < rows; i++) t.set(`k${i}`, `${i}:${"w".repeat(100)}`);
    t.flush();
    await settle(state); // the first fold: a snapshot as large as the world
    for (let i = 0; state.snapshotBytes() > 0 && !state.folding && i < rows * 2; i++) {
      t.set(`k${i % rows}`, `again ${i}:${"v".repeat(100)}`);
      t.flush();
    }
    expect(state.folding).toBe(true);
    return { state, t, rows };
  }

  it("keeps answering while the snapshot is written, and what changed meanwhile is kept", async () => {
    const dir = freshDir();
    const { state, t, rows } = await foldingWorld(dir);
    // One turn later the fold is still under way: it does not hold the event loop until it ends.
    await new Promise((resolve) => setImmediate(resolve));
    expect(state.folding).toBe(true);
    t.set("k0", "changed during the fold");
    t.delete("k1");
    t.set("new", "added during the fold");
    t.flush();
    await settle(state);
    t.set("k2", "after the fold");
    t.flush();
    // A crash (no close): the snapshot and the journal written since the fold began give the world.
    (state as unknown as { lock: { release(): void } }).lock.release();
    const reopened = SandboxState.open(dir, log);
    const world = reopened.table<string>("world");
    expect(world.size).toBe(rows);
    expect(world.get("k0")).toBe("changed during the fold");
    expect(world.has("k1")).toBe(false);
    expect(world.get("new")).toBe("added during the fold");
    expect(world.get("k2")).toBe("after the fold");
    reopened.close();
  });

  it("after a crash in the middle of a fold, replays the snapshot, the old journal and the journal", async () => {
    const dir = freshDir();
    const { state, t, rows } = await foldingWorld(dir);
    const last = [...t.entries()].at(-1)!;
    t.set("k3", "changed during the fold");
    t.delete("k4");
    t.flush();
    (state as unknown as { lock: { release(): void } }).lock.release(); // dies before the fold ends
    expect(readdirSync(join(dir, "sandbox", "state"))).toContain("journal.old.ndjson");
    const reopened = SandboxState.open(dir, log);
    const world = reopened.table<string>("world");
    expect(world.size).toBe(rows - 1);
    expect(world.get("k3")).toBe("changed during the fold");
    expect(world.has("k4")).toBe(false);
    expect(world.get(last[0])).toBe(last[1]);
    reopened.close();
    expect(readdirSync(join(dir, "sandbox", "state"))).not.toContain("journal.old.ndjson");
  });
});

describe("sandbox journal and answers", () => {
  it("writes a change's journal line before the answer that reports it leaves", async () => {
    const data_dir = freshDir();
    const sandbox = await startTestSandbox({ data_dir });
    try {
      const card = await addCard(sandbox, { balance: 70_000 });
      // Read at once, without close(): the answer above came after the line was written.
      const journal = readFileSync(join(data_dir, "sandbox", "state", "journal.ndjson"), "utf8");
      expect(journal.split("\n").some((line) => line.includes('"t":"engine.cards"') && line.includes(card.card_number))).toBe(true);
    } finally {
      await sandbox.close();
    }
  });

  it("writes the lines of many changes in one write, and changes made outside a request by the next turn", async () => {
    const dir = freshDir();
    const state = SandboxState.open(dir, log);
    const t = state.table<number>("n");
    const journal = join(dir, "sandbox", "state", "journal.ndjson");
    for (let i = 0; i < 5; i++) t.set(String(i), i);
    expect(readFileSync(journal, "utf8")).toBe("");
    await new Promise((resolve) => setImmediate(resolve));
    expect(readFileSync(journal, "utf8").trim().split("\n")).toHaveLength(5);
    state.close();
  });
});

describe("sandbox restart on the same data directory", () => {
  it("keeps added cards, balances, agreements, the SMS inbox and the statement", async () => {
    const data_dir = freshDir();
    const first = await startTestSandbox({ data_dir });
    const card = await addCard(first, { balance: 50_000 });
    await first.send("POST", "/sandbox/v1/sms", { phone: card.phone, text: "【测试】验证码 123456" });
    const otp = await latestOtp(first, card.phone);
    await first.close();

    const second = await startTestSandbox({ data_dir, clock: first.clock });
    const cards = (await second.get<{ data: { card_number: string; balance: number }[] }>("/sandbox/v1/cards")).body.data;
    expect(cards.find((c) => c.card_number === card.card_number)?.balance).toBe(50_000);
    expect(await latestOtp(second, card.phone)).toBe(otp);
    // A second sandbox on the same directory stops with one clear line.
    await expect(startTestSandbox({ data_dir })).rejects.toThrow(/another sandbox \(pid \d+\) already runs on/);
    await second.close();
  });
});
