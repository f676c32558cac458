import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createLogger } from "../../src/kernel/log.ts";
import { DayArchive, RecordArchive } from "../../src/sandbox/archive.ts";
import { Engine, type TxnRecord } from "../../src/sandbox/engine.ts";
import { SANDBOX_LIMITS } from "../../src/sandbox/limits.ts";
import { SandboxState } from "../../src/sandbox/persistence.ts";
import { statementFile } from "../../src/sandbox/statements.ts";

const log = createLogger("silent");
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const PI = "Z2000000000001";
const RECORDS_MAX = 40;
const RETENTION_MS = 60_000;
const STEP_MS = 5_000;
/** More payments than the table holds: the old sandbox refused the 41st. */
const PAYMENTS = 3 * RECORDS_MAX;

/** A sandbox world on disk with a small table and a short retention, the clock at 11:00 Beijing time. */
function openWorld(dir: string, clock: ManualClock) {
  const state = SandboxState.open(dir, log);
  const engine = new Engine(7, clock, state, { archive: RecordArchive.open(state.archive_dir!), records_max: RECORDS_MAX, records_retention_ms: RETENTION_MS });
  return { state, engine };
}

function signedAgreement(engine: Engine): string {
  const card = [...engine.cards.values()].find((c) => c.card_type === "debit" && c.status === "normal" && c.balance_fen > 1_000_000n)!;
  const elements = { card_number: card.card_number, holder_name: card.holder_name, id_number: card.id_number, phone: card.phone, cvn2: null, expiry: null };
  expect(engine.signApply("netsunion", "sign-1", PI, elements, null).outcome).toBe("ok");
  const confirmed = engine.signConfirm("netsunion", "sign-1", engine.signRequest("netsunion", "sign-1")!.otp, null);
  if (confirmed.outcome !== "ok") throw new Error(`sign confirm: ${JSON.stringify(confirmed)}`);
  return confirmed.value.agreement_no!;
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("sandbox world beyond records_max", () => {
  it("retires old transactions to the archive: payments go on, statements, queries and refunds still see them, across a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "paycore-world-"));
    dirs.push(dir);
    const clock = new ManualClock("2026-05-02T03:00:00Z");
    let { state, engine } = openWorld(dir, clock);
    const agreement_no = signedAgreement(engine);
    const paid: TxnRecord[] = [];
    for (let i = 1; i <= PAYMENTS; i++) {
      clock.advance(STEP_MS);
      const result = engine.pay({ network: "netsunion", txn_id: `pay-${i}`, pi_id: PI, agreement_no, amount_fen: BigInt(100 + i), order_id: `o-${i}` }, null);
      expect(result.outcome, `payment ${i}`).toBe("ok");
      paid.push(engine.query("netsunion", `pay-${i}`)!);
      await turn(); // retirement runs in the next turn, as between requests
      expect(engine.records_in_memory).toBeLessThanOrEqual(RECORDS_MAX);
    }
    expect(engine.retired_count).toBeGreaterThan(PAYMENTS - RECORDS_MAX);
    expect(engine.query("netsunion", "pay-1")).toBeUndefined(); // retired from memory…
    const date = paid[0]!.result.outcome === "ok" ? paid[0]!.result.value.settlement_date! : "";
    const file_before = await statementFile(engine, "netsunion", date, PI);
    // …but in the day's statement, in order, with those still in memory.
    expect(file_before.split("\n").filter((line) => line.startsWith("D"))).toHaveLength(PAYMENTS);
    expect(file_before.indexOf("pay-1 ")).toBeLessThan(file_before.indexOf(`pay-${PAYMENTS} `));

    // A refund of a retired payment brings it back, and its refunded amount is kept after it is retired again.
    await engine.recall("netsunion", { txn_id: "pay-1" });
    const refund = engine.refund({ network: "netsunion", txn_id: "refund-1", pi_id: PI, original_txn_id: "pay-1", original_network_txn_id: null, amount_fen: 60n, order_id: "o-1" }, null);
    expect(refund.outcome).toBe("ok");
    clock.advance(2 * RETENTION_MS);
    engine.retire(SANDBOX_LIMITS.records_retire_batch_max);
    expect(engine.records_in_memory).toBe(0);
    state.close();
    // A crash in the middle of an archive append leaves a torn line: it is cut off at the next start.
    const archive_file = join(dir, "sandbox", "state", "archive", `${date.replace(/-/g, "")}.netsunion.ndjson`);
    appendFileSync(archive_file, '{"network":"netsunion","txn_id":"torn","kind":"pay","fing');

    ({ state, engine } = openWorld(dir, clock));
    expect(engine.query("netsunion", "refund-1")).toBeUndefined();
    await engine.recall("netsunion", { txn_id: "pay-1" });
    const again = engine.refund({ network: "netsunion", txn_id: "refund-2", pi_id: PI, original_txn_id: "pay-1", original_network_txn_id: null, amount_fen: 50n, order_id: "o-1" }, null);
    expect(again).toEqual({ outcome: "declined", reason: "refund_exceeds_original", raw_code: null }); // 60 of 101 refunded already
    // A status query of a retired payment after the restart: from the archive, by either id.
    const network_txn_id = paid[9]!.result.outcome === "ok" ? paid[9]!.result.value.network_txn_id : "";
    await engine.recall("netsunion", { network_txn_id });
    expect(engine.query("netsunion", "pay-10")?.result).toEqual(paid[9]!.result);
    const file_after = await statementFile(engine, "netsunion", date, PI);
    expect(file_after.split("\n").filter((line) => line.startsWith("D"))).toHaveLength(PAYMENTS + 1); // and the refund
    expect(file_after.replace(/^.*refund-1.*\n/m, "").replace(/^H.*\n/, "")).toBe(file_before.replace(/^H.*\n/, ""));
    clock.advance(2 * RETENTION_MS);
    engine.retire(); // the recalled ones archived again, after the cut
    expect(engine.records_in_memory).toBe(0);
    expect(await statementFile(engine, "netsunion", date, PI)).toBe(file_after);
    expect(readFileSync(archive_file, "utf8")).not.toContain("torn");
    state.close();
    expect(readdirSync(join(dir, "sandbox", "state", "archive"))).toEqual([`${date.replace(/-/g, "")}.netsunion.ndjson`]);
  });

  it("bounds a search of the archive by the bytes it reads, newest days first, and by the searches at once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "paycore-world-"));
    dirs.push(dir);
    const record = (txn_id: string, date: string): TxnRecord => ({
      network: "netsunion", txn_id, kind: "pay", fingerprint: "f", created_at: new Date(`${date}T03:00:00Z`),
      result: { outcome: "ok", value: { network_txn_id: `N-${txn_id}`, agreement_no: null, verified: null, card_number: null, amount_fen: 100n, fee_fen: 0n, order_id: null, original_txn_id: null, settlement_date: date, trace_no: null, refunded_fen: 0n } },
    });
    const days = ["2026-05-01", "2026-05-02", "2026-05-03"];
    const full = RecordArchive.open(dir);
    for (const [i, date] of days.entries()) full.append(Array.from({ length: 20 }, (_, j) => record(`d${i}-${j}`, date)));
    const day_bytes = full.bytes / days.length;
    // Two days' worth: the newest two are searched, the oldest is not.
    const archive = RecordArchive.open(dir, { search_bytes_max: Math.ceil(2 * day_bytes) });
    expect((await archive.find("netsunion", { txn_id: "d2-5" }))?.txn_id).toBe("d2-5");
    expect((await archive.find("netsunion", { network_txn_id: "N-d1-7" }))?.txn_id).toBe("d1-7");
    expect(await archive.find("netsunion", { txn_id: "d0-3" })).toBeUndefined();
    expect((await full.find("netsunion", { txn_id: "d0-3" }))?.txn_id).toBe("d0-3");
    // A list (findAll) of every record, within a byte budget of its own: the newest day only.
    const days_archive = DayArchive.open<TxnRecord>(dir, { channel: (r) => r.network, date: (r) => (r.result.outcome === "ok" ? r.result.value.settlement_date! : ""), id: (r) => r.txn_id });
    const newest = await days_archive.findAll(["netsunion"], `"txn_id":`, () => true, 1_000, Math.ceil(day_bytes));
    expect(newest.map((r) => r.txn_id)).toEqual(Array.from({ length: 20 }, (_, j) => `d2-${j}`));
    expect(await days_archive.findAll(["netsunion"], `"txn_id":`, () => true, 1_000)).toHaveLength(60);
    const searches = Array.from({ length: SANDBOX_LIMITS.archive_searches_max + 1 }, () => archive.find("netsunion", { txn_id: "absent" }));
    const settled = await Promise.allSettled(searches);
    expect(settled.filter((s) => s.status === "rejected").map((s) => String((s as PromiseRejectedResult).reason))).toEqual(["CapacityError: sandbox capacity reached: archive searches"]);
  });

  it("still refuses new transactions when the table is full of ones younger than the retention", () => {
    const clock = new ManualClock("2026-05-02T03:00:00Z");
    const engine = new Engine(7, clock, SandboxState.inMemory(), { records_max: 3, records_retention_ms: RETENTION_MS });
    const agreement_no = signedAgreement(engine);
    const pay = (i: number) => engine.pay({ network: "netsunion", txn_id: `p-${i}`, pi_id: PI, agreement_no, amount_fen: 100n, order_id: `o-${i}` }, null);
    pay(1);
    pay(2);
    expect(() => pay(3)).toThrow(/sandbox capacity reached: transactions/);
    clock.advance(RETENTION_MS + 1);
    expect(pay(3).outcome).toBe("ok"); // the oldest retired at once to make room
    expect(engine.records_in_memory).toBeLessThanOrEqual(3);
  });
});

describe("sandbox agreements", () => {
  it("keeps at most agreements_max and refuses one more with the sign request still open", () => {
    const clock = new ManualClock("2026-05-02T03:00:00Z");
    const engine = new Engine(7, clock, SandboxState.inMemory(), { agreements_max: 2 });
    const cards = [...engine.cards.values()].filter((c) => c.card_type === "debit" && c.status === "normal").slice(0, 3);
    const sign = (i: number) => {
      const card = cards[i]!;
      const elements = { card_number: card.card_number, holder_name: card.holder_name, id_number: card.id_number, phone: card.phone, cvn2: null, expiry: null };
      expect(engine.signApply("netsunion", `sign-${i}`, PI, elements, null).outcome).toBe("ok");
      return () => engine.signConfirm("netsunion", `sign-${i}`, engine.signRequest("netsunion", `sign-${i}`)!.otp, null);
    };
    expect(sign(0)().outcome).toBe("ok");
    expect(sign(1)().outcome).toBe("ok");
    const third = sign(2);
    expect(third).toThrow(/sandbox capacity reached: agreements \(2/);
    expect(engine.signRequest("netsunion", "sign-2")?.state).toBe("otp_sent"); // may be confirmed once there is room
    expect(sign(0)().outcome).toBe("ok"); // the same card again: its agreement, nothing new
  });
});
