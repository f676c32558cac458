import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensurePaycoreChannelKeys } from "../../src/channels/index.ts";
import { sm2Sign } from "../../src/kernel/crypto/sm2.ts";
import { signMessage, toXml, type CnapsMessage, type CreditTransfer } from "../../src/kernel/cnaps/iso20022.ts";
import { cnapsDirectory } from "../../src/kernel/banks.ts";
import { HttpRailGateway } from "../../src/payouts/gateway.ts";
import { createLogger } from "../../src/kernel/log.ts";
import { SANDBOX_RESERVE_ACCOUNT } from "../../src/sandbox/index.ts";
import { SandboxState } from "../../src/sandbox/persistence.ts";
import { eventually, startCallbackReceiver, startTestSandbox, type TestSandbox } from "../support/sandbox.ts";

/** The CNAPS rails of the sandbox over HTTP, spoken to with signed ISO 20022 messages. */
describe("sandbox rails", () => {
  let sandbox: TestSandbox;
  let gateway: HttpRailGateway;
  let receiver: Awaited<ReturnType<typeof startCallbackReceiver>>;
  let private_key_hex: string;
  let n = 0;
  const bj = (local: string) => new Date(`${local}+08:00`);
  const credit = (rail: CreditTransfer["rail"], amount: bigint, account = "6222000011112222", agent = "105100000017", name = "上海某某贸易有限公司") => {
    n += 1;
    return { msg_id: `MSGTEST${String(n).padStart(8, "0")}`, end_to_end_id: `po_test${n}xxxx`, rail, amount, creditor: { name, account, agent }, purpose: "goods" };
  };
  const pushed = (type: string) => receiver.received.map((r) => r.body).filter((b) => b.includes(type));

  beforeAll(async () => {
    sandbox = await startTestSandbox({ rails: { beps_batch_interval_ms: 300, return_delay_ms: 300, forward_delay_ms: 200, tick_ms: 50 } });
    private_key_hex = ensurePaycoreChannelKeys(sandbox.data_dir, new Date()).netsunion.private_key_hex;
    gateway = new HttpRailGateway(sandbox.url, sandbox.data_dir, { ...SANDBOX_RESERVE_ACCOUNT });
    receiver = await startCallbackReceiver();
    await sandbox.send("PUT", "/sandbox/v1/config", { paycore_callback_url: receiver.url });
  });
  afterAll(async () => {
    await sandbox?.close();
    await receiver?.close();
  });

  it("refuses unsigned, badly signed and malformed messages", async () => {
    const ct: CnapsMessage = { type: "pacs.008", created_at: new Date(), debtor: { ...SANDBOX_RESERVE_ACCOUNT }, ...credit("ibps", 100n) };
    const post = (body: string) => fetch(`${sandbox.url}/cnaps/gateway`, { method: "POST", headers: { "content-type": "application/xml" }, body });
    const unsigned = await post(toXml(ct));
    expect([unsigned.status, await unsigned.text()]).toEqual([400, "unsigned: message is not signed"]);
    const tampered = signMessage(ct, private_key_hex).replace("100", "900");
    expect((await (await post(tampered)).text()).startsWith("bad_signature")).toBe(true);
    const broken = toXml(ct).replace("</Document>", "");
    const malformed = await post(`${broken}{S:${sm2Sign(broken, private_key_hex).toString("base64")}}`);
    expect((await malformed.text()).startsWith("malformed: not well-formed XML")).toBe(true);
    const entity = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><Document/>`;
    expect((await post(entity + "{S:" + "A".repeat(20) + "}")).status).toBe(400);
    expect(await sandbox.get("/sandbox/v1/rails/credits?account_number=6222000011112222")).toEqual({ status: 200, body: { data: [] } });
  });

  it("HVPS refuses at night and on holidays, takes credits in its hours and when forced open", async () => {
    sandbox.clock.set(bj("2026-12-04T22:00:00")); // Friday night: Saturday is no working day
    expect(await gateway.send(credit("hvps", 5_200_000n), sandbox.clock.now())).toEqual({ status: "rejected", code: "CLSD" });
    sandbox.clock.set(bj("2026-10-01T10:00:00"));
    expect(await gateway.send(credit("hvps", 5_200_000n), sandbox.clock.now())).toEqual({ status: "rejected", code: "CLSD" });
    sandbox.clock.set(bj("2026-12-01T10:00:00"));
    expect((await gateway.send(credit("hvps", 5_200_000n), sandbox.clock.now())).status).toBe("succeeded");
    await sandbox.send("POST", "/sandbox/v1/rails/hvps", { status: "closed" });
    expect(await gateway.send(credit("hvps", 100n), sandbox.clock.now())).toEqual({ status: "rejected", code: "CLSD" });
    await sandbox.send("POST", "/sandbox/v1/rails/hvps", { status: "schedule" });
  });

  it("caps BEPS and IBPS, and IBPS only reaches participating banks", async () => {
    const now = sandbox.clock.now();
    expect(await gateway.send(credit("ibps", 5_000_001n), now)).toEqual({ status: "rejected", code: "OCAP" });
    expect(await gateway.send(credit("beps", 5_000_001n), now)).toEqual({ status: "rejected", code: "OCAP" });
    expect(await gateway.send(credit("ibps", 100n, "6222000099990001", "309100000018"), now)).toEqual({ status: "rejected", code: "NIBP" });
    expect((await gateway.send(credit("ibps", 5_000_000n), now)).status).toBe("succeeded");
  });

  it("credits only participants of the CNAPS bank directory, the one paycore validates against", async () => {
    const now = sandbox.clock.now();
    // 105 is CCB's prefix, but 105100000099 is no branch in the directory: the account is unknown.
    expect(await gateway.send(credit("hvps", 100n, "6222000099990002", "105100000099"), now)).toEqual({ status: "rejected", code: "AC01" });
    expect((await gateway.send(credit("hvps", 100n, "6222000099990003", "104290000016"), now)).status).toBe("succeeded");
    const payee = { account_number: "6222000099990004", account_name: "某公司", behaviour: "accept" };
    const unknown = await sandbox.send<{ error: { message: string } }>("POST", "/sandbox/v1/payees", { ...payee, bank_code: "105100000099" });
    expect([unknown.status, unknown.body.error.message]).toEqual([400, expect.stringContaining("bank_code")]);
    expect((await sandbox.send("POST", "/sandbox/v1/payees", { ...payee, bank_code: "105290000014" })).status).toBe(201);
    type Branch = { cnaps_code: string; city: string; branch_name: string; ibps: boolean };
    const banks = await sandbox.get<{ data: { bank_code: string; branches: Branch[] }[] }>("/sandbox/v1/banks");
    const listed = banks.body.data.flatMap((b) => b.branches.map((br) => ({ bank_code: b.bank_code, ...br })));
    const directory = cnapsDirectory().map((p) => ({ bank_code: p.bank_code, cnaps_code: p.cnaps_code, city: p.city, branch_name: p.branch_name, ibps: p.ibps }));
    expect(listed.sort((a, b) => a.cnaps_code.localeCompare(b.cnaps_code))).toEqual(directory.sort((a, b) => a.cnaps_code.localeCompare(b.cnaps_code)));
    expect(banks.body.data.every((b) => b.branches.length >= 3)).toBe(true);
  });

  it("BEPS answers accepted and reports the batch result later; the same message id is one transfer", async () => {
    const c = credit("beps", 2_000_000n, "6222000033334444");
    expect(await gateway.send(c, sandbox.clock.now())).toEqual({ status: "accepted" });
    expect(await gateway.send(c, sandbox.clock.now())).toEqual({ status: "accepted" });
    await eventually(() => pushed(c.msg_id).find((b) => b.includes("<TxSts>ACSC</TxSts>")), "BEPS batch result");
    expect((await gateway.query(c.msg_id, sandbox.clock.now())).status).toBe("succeeded");
    expect((await sandbox.get<{ data: unknown[] }>("/sandbox/v1/rails/credits?account_number=6222000033334444")).body.data).toHaveLength(1);
    expect(await gateway.query("MSGNEVERSENT0001", sandbox.clock.now())).toEqual({ status: "not_found" });
  });

  it("payee banks reject, or accept and send the credit back later", async () => {
    await sandbox.send("POST", "/sandbox/v1/payees", { account_number: "6222000055556666", account_name: "拒收公司", bank_code: "105100000017", behaviour: "reject" });
    await sandbox.send("POST", "/sandbox/v1/payees", { account_number: "6222000077778888", account_name: "退汇公司", bank_code: "105100000017", behaviour: "return" });
    expect(await gateway.send(credit("ibps", 100n, "6222000055556666", "105100000017", "拒收公司"), sandbox.clock.now())).toEqual({ status: "rejected", code: "AC04" });
    const back = credit("ibps", 300n, "6222000077778888", "105100000017", "退汇公司");
    expect((await gateway.send(back, sandbox.clock.now())).status).toBe("succeeded");
    const ret = await eventually(() => pushed("pacs.004").find((b) => b.includes(back.msg_id)), "return message");
    const opened = gateway.open(ret);
    expect(opened.ok && opened.message.type === "pacs.004" && opened.message.amount).toBe(300n);
  });

  it("announces a deposit as a signed credit notice and takes its return once", async () => {
    const res = await sandbox.send<{ deposit_id: string }>("POST", "/sandbox/v1/deposits", { merchant_id: "mch_x", amount: 123_400, payer: { account_name: "某公司", account_number: "6222000012340000", bank_code: "102100000015" } });
    expect(res.status).toBe(201);
    const notice = await eventually(() => pushed("camt.054").find((b) => b.includes(res.body.deposit_id)), "credit notice");
    const opened = gateway.open(notice);
    expect(opened.ok && opened.message.type === "camt.054" && opened.message.debtor.name).toBe("某公司");
    const returned = await gateway.returnDeposit({ msg_id: "RTNTEST000000001", entry_ref: res.body.deposit_id, amount: 123_400n, reason: "NAME" }, sandbox.clock.now());
    expect(returned.status).toBe("succeeded");
    const deposits = await sandbox.get<{ data: { deposit_id: string; status: string }[] }>("/sandbox/v1/deposits");
    expect(deposits.body.data.find((d) => d.deposit_id === res.body.deposit_id)?.status).toBe("returned");
  });

  it("answers the rails' state and validates control requests", async () => {
    expect((await sandbox.send("POST", "/sandbox/v1/rails/swift", { status: "open" })).status).toBe(404);
    expect((await sandbox.send("POST", "/sandbox/v1/rails/beps", { status: "maybe" })).status).toBe(400);
    expect((await sandbox.send("POST", "/sandbox/v1/payees", { account_number: "12", account_name: "x", bank_code: "1", behaviour: "accept" })).status).toBe(400);
    const rails = await sandbox.get<{ data: { rail: string; per_item_max: number | null }[] }>("/sandbox/v1/rails");
    expect(rails.body.data.map((r) => [r.rail, r.per_item_max])).toEqual([["hvps", null], ["beps", 5_000_000], ["ibps", 5_000_000], ["bank_direct", null]]);
  });
});

describe("sandbox rails across a restart", () => {
  it("keeps payees, transfers, deposits and the rails' resend answer in the data directory", async () => {
    const data_dir = mkdtempSync(join(tmpdir(), "paycore-rails-"));
    const first = await startTestSandbox({ data_dir, rails: { tick_ms: 50 } });
    const gateway = new HttpRailGateway(first.url, data_dir, { ...SANDBOX_RESERVE_ACCOUNT });
    await first.send("POST", "/sandbox/v1/payees", { account_number: "6222000011113333", account_name: "拒收公司", bank_code: "105100000017", behaviour: "reject" });
    const c = { msg_id: "MSGRESTART000001", end_to_end_id: "po_restart0001", rail: "ibps" as const, amount: 500n, creditor: { name: "某公司", account: "6222000011114444", agent: "105100000017" }, purpose: "goods" };
    expect((await gateway.send(c, first.clock.now())).status).toBe("succeeded");
    expect((await first.send("POST", "/sandbox/v1/rails/ibps", { resend: "dupl" })).body).toMatchObject({ rail: "ibps", resend: "dupl" });
    await first.close();
    const again = await startTestSandbox({ data_dir, rails: { tick_ms: 50 } });
    try {
      const regateway = new HttpRailGateway(again.url, data_dir, { ...SANDBOX_RESERVE_ACCOUNT });
      expect((await regateway.query(c.msg_id, again.clock.now())).status).toBe("succeeded");
      expect(await regateway.send(c, again.clock.now())).toEqual({ status: "rejected", code: "DUPL" }); // the rail still answers a resend DUPL
      expect((await again.send("POST", "/sandbox/v1/rails/ibps", { resend: "original" })).body).toMatchObject({ rail: "ibps", resend: "original" });
      expect((await regateway.send(c, again.clock.now())).status).toBe("succeeded"); // same message id: still one credit
      expect((await again.get<{ data: unknown[] }>("/sandbox/v1/rails/credits?account_number=6222000011114444")).body.data).toHaveLength(1);
      const rejected = { ...c, msg_id: "MSGRESTART000002", creditor: { name: "拒收公司", account: "6222000011113333", agent: "105100000017" } };
      expect(await regateway.send(rejected, again.clock.now())).toEqual({ status: "rejected", code: "AC04" });
    } finally {
      await again.close();
      rmSync(data_dir, { recursive: true, force: true });
    }
  });
});

/**
 * A sandbox whose rails keep few transfers and deposits in memory (the retention and the caps
 * made small through `world`, as SANDBOX_RECORDS_RETENTION_MS and SANDBOX_RAIL_*_MAX do): the
 * old rails refused every credit past their table; now the final ones are retired to the archive
 * and still answer status queries, resends, the payee's credits, the statement and a deposit's
 * return, across a restart.
 */
describe("sandbox rails saved whole by an earlier version", () => {
  it("moves the transfers, deposits and payees of a world saved as one value into their tables", async () => {
    const data_dir = mkdtempSync(join(tmpdir(), "paycore-rails-"));
    try {
      const state = SandboxState.open(data_dir, createLogger("silent"));
      const transfer = {
        msg_id: "MSGLEGACY0000001", end_to_end_id: "po_legacy1", rail: "ibps", amount: "700", creditor: { name: "某公司", account: "6222000011115555", agent: "105100000017" },
        body_key: "{}", status: "ACSC", reason: null, received_at: "2026-05-02T02:00:00.000Z", settle_due_ms: null, settled_at: "2026-05-02T02:00:00.000Z", return_due_ms: null, returned_at: null,
      };
      const deposit = { deposit_id: "DLEGACY00000001", merchant_id: "mch_l", amount: "900", payer: { name: "某公司", account: "6222000012340000", agent: "102100000015" }, status: "announced", received_at: "2026-05-02T02:00:00.000Z", returned_at: null };
      state.table("rails.world").set("state", { forced: {}, caps: { hvps: null, beps: "5000000", ibps: "5000000", bank_direct: null }, payees: { "105100000017:6222000011116666": { account_name: "拒收公司", behaviour: "reject" } }, transfers: { [transfer.msg_id]: transfer }, deposits: { [deposit.deposit_id]: deposit }, outbox: [], counter: 3 });
      state.close();
      const sandbox = await startTestSandbox({ data_dir });
      try {
        const gateway = new HttpRailGateway(sandbox.url, data_dir, { ...SANDBOX_RESERVE_ACCOUNT });
        expect((await gateway.query(transfer.msg_id, sandbox.clock.now())).status).toBe("succeeded");
        expect((await sandbox.get<{ data: unknown[] }>("/sandbox/v1/rails/credits?account_number=6222000011115555")).body.data).toHaveLength(1);
        expect((await sandbox.get<{ data: { deposit_id: string }[] }>("/sandbox/v1/deposits")).body.data.map((d) => d.deposit_id)).toEqual([deposit.deposit_id]);
        const refused = { msg_id: "MSGLEGACY0000002", end_to_end_id: "po_legacy2", rail: "ibps" as const, amount: 800n, creditor: { name: "拒收公司", account: "6222000011116666", agent: "105100000017" }, purpose: "goods" };
        expect(await gateway.send(refused, sandbox.clock.now())).toEqual({ status: "rejected", code: "AC04" }); // its payee kept
      } finally {
        await sandbox.close();
      }
    } finally {
      rmSync(data_dir, { recursive: true, force: true });
    }
  });
});

describe("sandbox rails beyond their tables", () => {
  const TRANSFERS_MAX = 4;
  const RETENTION_MS = 60_000;
  const CREDITS = 3 * TRANSFERS_MAX;
  const ACCOUNT = "6222000066667777";
  const world = { rail_transfers_max: TRANSFERS_MAX, rail_deposits_max: 2, rail_in_flight_max: 2, records_retention_ms: RETENTION_MS };
  const credit = (i: number) => ({
    msg_id: `MSGRETIRE${String(i).padStart(7, "0")}`, end_to_end_id: `po_retire${i}`, rail: "ibps" as const, amount: BigInt(1_000 + i),
    creditor: { name: "某某贸易有限公司", account: ACCOUNT, agent: "105100000017" }, purpose: "goods",
  });
  type RailWorld = { transfers_in_memory: number; transfers_in_flight: number; deposits_in_memory: number; retired: number; retired_ids: number; archive_bytes: number };
  type Credit = { msg_id: string; amount: number };

  /** The rails' counts once `done` holds of them (the ticker retires; polled, bounded). */
  async function railWorldWhen(sandbox: TestSandbox, done: (counts: RailWorld) => boolean, what: string): Promise<RailWorld> {
    for (let i = 0; i < 500; i++) {
      const counts = (await sandbox.get<RailWorld>("/sandbox/v1/rails/world")).body;
      if (done(counts)) return counts;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`gave up waiting for ${what}`);
  }

  /** The day's IBPS statement file: its signed line's count and the file's message ids. */
  async function statement(sandbox: TestSandbox, date: string): Promise<{ count: number; msg_ids: string[] }> {
    const signed = await fetch(`${sandbox.url}/cnaps/statements?rail=ibps&date=${date}`);
    expect(signed.status).toBe(200);
    const [, , , name, , , count] = (await signed.text()).split("{S:")[0]!.split("|");
    const file = await (await fetch(`${sandbox.url}/cnaps/files/${name}`)).text();
    return { count: Number(count), msg_ids: file.split("\n").filter((line) => line.startsWith("D")).map((line) => /MSG\w+/.exec(line)?.[0] ?? line) };
  }

  it("retires final transfers and deposits instead of refusing, and still answers for them after a restart", async () => {
    const data_dir = mkdtempSync(join(tmpdir(), "paycore-rails-"));
    const first = await startTestSandbox({ data_dir, world, rails: { tick_ms: 20 } });
    let again: TestSandbox | undefined;
    try {
      const gateway = new HttpRailGateway(first.url, data_dir, { ...SANDBOX_RESERVE_ACCOUNT });
      const day = "2026-05-02"; // 11:00 Beijing, before the 23:00 cut-off
      for (let i = 1; i <= CREDITS; i++) {
        first.clock.advance(20_000); // three credits a retention
        expect((await gateway.send(credit(i), first.clock.now())).status, `credit ${i}`).toBe("succeeded");
      }
      const counts = await railWorldWhen(first, (c) => c.retired >= CREDITS - TRANSFERS_MAX, "credits retired");
      expect(counts.transfers_in_memory).toBeLessThanOrEqual(TRANSFERS_MAX);
      expect(counts.retired).toBeGreaterThanOrEqual(CREDITS - TRANSFERS_MAX);
      expect(counts.archive_bytes).toBeGreaterThan(0);
      // A retired transfer: its status from the archive; sent again, still the one credit.
      expect((await gateway.query(credit(1).msg_id, first.clock.now())).status).toBe("succeeded");
      expect((await gateway.send(credit(1), first.clock.now())).status).toBe("succeeded");
      expect(await gateway.send({ ...credit(1), amount: 5n }, first.clock.now())).toEqual({ status: "rejected", code: "DUPL" });
      const credits = (await first.get<{ data: Credit[] }>(`/sandbox/v1/rails/credits?account_number=${ACCOUNT}`)).body.data;
      expect(credits.map((c) => c.msg_id)).toEqual(Array.from({ length: CREDITS }, (_, i) => credit(i + 1).msg_id));

      // Deposits past their table: all listed, and a retired one is sent back once.
      const deposit_ids: string[] = [];
      for (let i = 1; i <= 4; i++) {
        first.clock.advance(20_000);
        const res = await first.send<{ deposit_id: string }>("POST", "/sandbox/v1/deposits", { merchant_id: `mch_${i}`, amount: 10_000 * i, payer: { account_name: "某公司", account_number: "6222000012340000", bank_code: "102100000015" } });
        expect(res.status).toBe(201);
        deposit_ids.push(res.body.deposit_id);
      }
      await railWorldWhen(first, (c) => c.deposits_in_memory <= 2, "deposits retired");
      const returned = await gateway.returnDeposit({ msg_id: "RTNRETIRE0000001", entry_ref: deposit_ids[0]!, amount: 10_000n, reason: "NAME" }, first.clock.now());
      expect(returned.status).toBe("succeeded");
      expect((await gateway.returnDeposit({ msg_id: "RTNRETIRE0000002", entry_ref: deposit_ids[1]!, amount: 1n, reason: "NAME" }, first.clock.now())).status).toBe("rejected"); // not its amount
      await first.close();

      again = await startTestSandbox({ data_dir, world, rails: { tick_ms: 20 }, clock: first.clock });
      const regateway = new HttpRailGateway(again.url, data_dir, { ...SANDBOX_RESERVE_ACCOUNT });
      expect((await regateway.query(credit(2).msg_id, again.clock.now())).status).toBe("succeeded");
      expect((await regateway.send(credit(2), again.clock.now())).status).toBe("succeeded"); // still one credit
      expect((await again.get<{ data: Credit[] }>(`/sandbox/v1/rails/credits?account_number=${ACCOUNT}`)).body.data).toHaveLength(CREDITS);
      const deposits = (await again.get<{ data: { deposit_id: string; status: string }[] }>("/sandbox/v1/deposits")).body.data;
      expect(deposits.map((d) => [d.deposit_id, d.status])).toEqual(deposit_ids.map((id, i) => [id, i === 0 ? "returned" : "announced"]));
      // The next morning the day's file lists every credit, retired or not, in settling order.
      again.clock.advance(20 * 3_600_000);
      const file = await statement(again, day);
      expect(file).toEqual({ count: CREDITS, msg_ids: Array.from({ length: CREDITS }, (_, i) => credit(i + 1).msg_id) });
    } finally {
      await again?.close();
      rmSync(data_dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("never retires a transfer in flight, and refuses one more past their cap with a clear error", async () => {
    // Bank-direct credits to another bank than the reserve bank wait for its forwarding (4 s of wall time): in flight.
    const sandbox = await startTestSandbox({ world, rails: { tick_ms: 20, forward_delay_ms: 4_000 } });
    try {
      const gateway = new HttpRailGateway(sandbox.url, sandbox.data_dir, { ...SANDBOX_RESERVE_ACCOUNT });
      const forwarded = (i: number) => ({ ...credit(100 + i), rail: "bank_direct" as const });
      expect(await gateway.send(forwarded(1), sandbox.clock.now())).toEqual({ status: "accepted" });
      expect(await gateway.send(forwarded(2), sandbox.clock.now())).toEqual({ status: "accepted" });
      const private_key_hex = ensurePaycoreChannelKeys(sandbox.data_dir, new Date()).netsunion.private_key_hex;
      const refused = await fetch(`${sandbox.url}/cnaps/gateway`, {
        method: "POST", headers: { "content-type": "application/xml" },
        body: signMessage({ type: "pacs.008", created_at: sandbox.clock.now(), debtor: { ...SANDBOX_RESERVE_ACCOUNT }, ...forwarded(3) }, private_key_hex),
      });
      expect([refused.status, ((await refused.json()) as { error: { message: string } }).error.message]).toEqual([503, expect.stringContaining("rail transfers in flight (2")]);
      // A credit that settles at once is not in flight: taken, and retired later like the rest,
      // while the business clock runs far past the retention of the two in flight.
      for (let i = 1; i <= 2 * TRANSFERS_MAX; i++) {
        sandbox.clock.advance(RETENTION_MS);
        expect((await gateway.send(credit(200 + i), sandbox.clock.now())).status, `credit ${i}`).toBe("succeeded");
      }
      await railWorldWhen(sandbox, (c) => c.retired >= TRANSFERS_MAX, "instant credits retired");
      expect(await gateway.query(forwarded(3).msg_id, sandbox.clock.now())).toEqual({ status: "not_found" });
      // Still in memory when the reserve bank forwards them: they settle (a retired one never would).
      for (const i of [1, 2]) {
        let status = "";
        for (let tries = 0; tries < 500 && status !== "succeeded"; tries++) {
          status = (await gateway.query(forwarded(i).msg_id, sandbox.clock.now())).status;
          if (status !== "succeeded") await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(status, `forwarded credit ${i}`).toBe("succeeded");
      }
    } finally {
      await sandbox.close();
    }
  }, 60_000);
});
