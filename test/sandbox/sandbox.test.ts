import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChannelAdapters, type Channel } from "../../src/channels/index.ts";
import { settlementDate } from "../../src/sandbox/calendar.ts";
import { luhnValid, residentId, startTestSandbox, type SandboxCard, type TestSandbox } from "../support/sandbox.ts";

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
function residentIdValid(id: string): boolean {
  if (!/^\d{17}[\dX]$/.test(id)) return false;
  const sum = [...id.slice(0, 17)].reduce((acc, d, i) => acc + Number(d) * ID_WEIGHTS[i]!, 0);
  const birth = id.slice(6, 14);
  const date = new Date(`${birth.slice(0, 4)}-${birth.slice(4, 6)}-${birth.slice(6)}T00:00:00Z`);
  return "10X98765432"[sum % 11] === id[17] && date.toISOString().slice(0, 10).replace(/-/g, "") === birth;
}

describe("sandbox server", () => {
  let sandbox: TestSandbox;
  let twin: TestSandbox;
  let other_seed: TestSandbox;
  beforeAll(async () => {
    sandbox = await startTestSandbox({ seed: 7 });
    twin = await startTestSandbox({ seed: 7 });
    other_seed = await startTestSandbox({ seed: 8 });
  });
  afterAll(async () => {
    await Promise.all([sandbox.close(), twin.close(), other_seed.close()]);
  });

  it("answers health", async () => {
    expect(await sandbox.get("/healthz")).toEqual({ status: 200, body: { status: "ok" } });
  });

  it("ships a deterministic catalogue: 8+ banks, 30+ valid cards, debit and credit, every status, unified and not", async () => {
    const cards = (await sandbox.get<{ data: SandboxCard[] }>("/sandbox/v1/cards")).body.data;
    expect(cards.length).toBeGreaterThanOrEqual(30);
    expect(new Set(cards.map((c) => c.bank_code)).size).toBeGreaterThanOrEqual(8);
    for (const card of cards) {
      expect(card.card_number).toMatch(/^62\d{14,17}$/);
      expect(luhnValid(card.card_number), card.card_number).toBe(true);
      expect(residentIdValid(card.id_number), card.id_number).toBe(true);
      expect(card.phone).toMatch(/^1[3-9]\d{9}$/);
      expect(card.balance).toBeGreaterThan(0);
      expect(card.daily_limit).toBeGreaterThan(0);
      if (card.card_type === "credit") expect(card).toMatchObject({ cvn2: expect.stringMatching(/^\d{3}$/), expiry: expect.stringMatching(/^(0[1-9]|1[0-2])\d{2}$/) });
      else expect(card.cvn2).toBeUndefined();
    }
    expect(new Set(cards.map((c) => c.card_number)).size).toBe(cards.length);
    expect(new Set(cards.map((c) => c.card_type))).toEqual(new Set(["debit", "credit"]));
    expect(new Set(cards.map((c) => c.status))).toEqual(new Set(["normal", "frozen", "lost"]));
    expect(new Set(cards.map((c) => c.unified))).toEqual(new Set([true, false]));
    expect((await twin.get("/sandbox/v1/cards")).body).toEqual({ data: cards });
    expect((await other_seed.get<{ data: SandboxCard[] }>("/sandbox/v1/cards")).body.data[0]!.card_number).not.toBe(cards[0]!.card_number);
  });

  it("adds a test card, generating the number from the bank's BIN when none is given", async () => {
    const created = await sandbox.send<SandboxCard>("POST", "/sandbox/v1/cards", {
      holder_name: "李雷", id_number: residentId(901), phone: "13912345678", bank_code: "CMB", card_type: "credit", balance: 200_000, daily_limit: 100_000,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ bank_code: "CMB", bank_name: "招商银行", card_type: "credit", unified: true, status: "normal", balance: 200_000 });
    expect(created.body.card_number.startsWith("622575")).toBe(true);
    expect(luhnValid(created.body.card_number)).toBe(true);
    const again = await sandbox.send("POST", "/sandbox/v1/cards", { ...created.body, bank_name: undefined, unified: undefined, cvn2: created.body.cvn2, expiry: created.body.expiry });
    expect(again.status).toBe(409);
  });

  it("accepts a card in the shape the catalogue lists, checking bank_name and unified against the bank code", async () => {
    const listed = (await sandbox.get<{ data: SandboxCard[] }>("/sandbox/v1/cards")).body.data.find((c) => c.card_type === "credit")!;
    const { card_number: _number, ...shape } = listed;
    const fresh = { ...shape, id_number: residentId(902), phone: "13912340902" };
    const created = await sandbox.send<SandboxCard>("POST", "/sandbox/v1/cards", fresh);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ bank_code: listed.bank_code, bank_name: listed.bank_name, unified: listed.unified, cvn2: listed.cvn2, expiry: listed.expiry });
    const wrong_name = await sandbox.send<{ error: { message: string } }>("POST", "/sandbox/v1/cards", { ...fresh, id_number: residentId(903), bank_name: "某某银行" });
    expect(wrong_name.status).toBe(400);
    expect(wrong_name.body.error.message).toBe(`bank_name: ${listed.bank_code} is ${listed.bank_name}, not 某某银行`);
    const wrong_unified = await sandbox.send<{ error: { message: string } }>("POST", "/sandbox/v1/cards", { ...fresh, id_number: residentId(904), unified: !listed.unified });
    expect(wrong_unified.status).toBe(400);
    expect(wrong_unified.body.error.message).toMatch(/^unified: /);
  });

  it("answers bad input with 400 and a message naming the field, never 5xx", async () => {
    const good_id = residentId(3);
    const wrong_check = good_id.slice(0, 17) + (good_id[17] === "0" ? "1" : "0");
    const bad: [string, string, unknown][] = [
      ["POST", "/sandbox/v1/cards", { holder_name: "x", id_number: wrong_check, phone: "13912345678", bank_code: "ICBC", card_type: "debit" }],
      ["POST", "/sandbox/v1/cards", { holder_name: "x", id_number: "110101199002300014", phone: "13912345678", bank_code: "ICBC", card_type: "debit" }],
      ["POST", "/sandbox/v1/cards", { holder_name: "x", id_number: residentId(3), phone: "123", bank_code: "ICBC", card_type: "debit" }],
      ["POST", "/sandbox/v1/cards", { holder_name: "x", id_number: residentId(3), phone: "13912345678", bank_code: "NOPE", card_type: "debit" }],
      ["POST", "/sandbox/v1/cards", { holder_name: "x", id_number: residentId(3), phone: "13912345678", bank_code: "ICBC", card_type: "debit", card_number: "6222021234567890120" }],
      ["POST", "/sandbox/v1/cards", { holder_name: "x", id_number: residentId(3), phone: "13912345678", bank_code: "ICBC", card_type: "debit", balance: 1.5 }],
      ["POST", "/sandbox/v1/faults", { channel: "swift", operation: "pay", kind: "timeout" }],
      ["POST", "/sandbox/v1/faults", { channel: "netsunion", operation: "pay", kind: "timeout", rate: 2 }],
      ["POST", "/sandbox/v1/faults", { channel: "netsunion", operation: "pay", kind: "latency" }],
      ["POST", "/sandbox/v1/unbind-notice", { channel: "netsunion" }],
      ["PUT", "/sandbox/v1/config", { paycore_callback_url: "not a url" }],
      ["POST", "/sandbox/v1/sms", { phone: "13912345678" }],
    ];
    for (const [method, path, body] of bad) {
      const response = await sandbox.send<{ error: { code: string; message: string } }>(method as "POST", path, body);
      expect(response.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(response.body.error.code).toBe("invalid_request");
      expect(response.body.error.message.length).toBeGreaterThan(3);
    }
    const not_json = await fetch(`${sandbox.url}/sandbox/v1/cards`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
    expect(not_json.status).toBe(400);
    expect((await sandbox.get("/sandbox/v1/sms?phone=abc")).status).toBe(400);
    expect((await sandbox.get("/sandbox/v1/statements?channel=netsunion&date=yesterday")).status).toBe(400);
    const json_to_gateway = await sandbox.send("POST", "/netsunion/gateway", { hello: 1 });
    expect(json_to_gateway.status).toBe(400);
    const huge = await fetch(`${sandbox.url}/netsunion/gateway`, { method: "POST", headers: { "content-type": "application/xml" }, body: "x".repeat(100_000) });
    expect(huge.status).toBe(413);
  });

  it("refuses junk on the gateways with a signed network error, not a crash", async () => {
    for (const body of ["<root/>", "<!DOCTYPE x><root/>", "<root><MsgHeader><A>1</A><A>2</A></MsgHeader></root>", "&&&"]) {
      const response = await fetch(`${sandbox.url}/netsunion/gateway`, { method: "POST", headers: { "content-type": "application/xml" }, body });
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/<SysRtnCd>EP00000[13]<\/SysRtnCd>.*\{S:[A-Za-z0-9+/=]+\}$/);
    }
    for (const body of ["a=1", "signature=abc&a=1&a=2", "%%%"]) {
      const response = await fetch(`${sandbox.url}/unionpay/gateway/api/backTransReq.do`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/respCode=(11|30).*signature=/);
    }
  });

  it("keeps SMS per phone, takes paycore's own messages, and lists recent ones on an HTML page", async () => {
    const posted = await sandbox.send("POST", "/sandbox/v1/sms", { phone: "13800000001", text: "【paycore】您的验证码 482913，5分钟内有效。" });
    expect(posted).toMatchObject({ status: 201, body: { otp: "482913" } });
    await sandbox.send("POST", "/sandbox/v1/sms", { phone: "13800000001", text: "邀请您签约 <b>", otp: "1234" });
    const inbox = await sandbox.get<{ data: { at: string; text: string; otp: string | null }[] }>("/sandbox/v1/sms?phone=13800000001");
    expect(inbox.body.data.map((m) => m.otp)).toEqual(["482913", "1234"]);
    expect(inbox.body.data[0]!.at).toBe(sandbox.clock.now().toISOString());
    const page = await fetch(`${sandbox.url}/sandbox/inbox`);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain("482913");
    expect(html).toContain("&lt;b&gt;");
    expect((await sandbox.get<{ data: unknown[] }>("/sandbox/v1/sms?phone=13800000009")).body.data).toEqual([]);
  });

  it("lists, resets and deterministically applies fault rules", async () => {
    const rule = { channel: "netsunion", operation: "query", kind: "decline", rate: 0.5, seed: 99 };
    expect((await sandbox.send("POST", "/sandbox/v1/faults", rule)).body).toMatchObject({ ...rule, fault_id: expect.any(String), latency_ms: 0, decline_code: null });
    expect((await sandbox.get<{ data: unknown[] }>("/sandbox/v1/faults")).body.data).toHaveLength(1);
    expect(await sandbox.send("POST", "/sandbox/v1/faults/reset")).toMatchObject({ status: 200, body: { data: [] } });
    await sandbox.send("POST", "/sandbox/v1/faults", { channel: "*", operation: "*", kind: "duplicate_notify" });
    expect(await sandbox.send("DELETE", "/sandbox/v1/faults")).toMatchObject({ status: 200, body: { data: [] } });
    expect((await sandbox.get<{ data: unknown[] }>("/sandbox/v1/faults")).body.data).toEqual([]);
  });

  it("draws fault rates from the rule's seed: the same rule meets the same calls the same way", async () => {
    const channel = {
      channel_id: "netsunion", kind: "agreement", display_name: "n", enabled: true, priority: 0, cost_bps: 0, cost_fixed_fen: 0n, unified_network: true,
      legacy: false, banks: null, endpoint_url: null, institution_id: "Z2000000000001", timeout_ms: 10_000, keys: {}, version: 1, updated_at: new Date(0),
    } satisfies Channel;
    const adapter = createChannelAdapters([channel], { clock: sandbox.clock, data_dir: sandbox.data_dir, sandbox_url: sandbox.url }).get("netsunion")!;
    const pattern = async () => {
      await sandbox.send("DELETE", "/sandbox/v1/faults");
      await sandbox.send("POST", "/sandbox/v1/faults", { channel: "netsunion", operation: "query", kind: "unknown", rate: 0.5, seed: 12345 });
      const statuses: string[] = [];
      for (let i = 0; i < 16; i++) statuses.push((await adapter.query({ txn_id: `nothing_${i}` })).status);
      return statuses.join(",");
    };
    const first = await pattern();
    expect(first).toContain("pending");
    expect(first).toContain("not_found");
    expect(await pattern()).toBe(first);
    await sandbox.send("DELETE", "/sandbox/v1/faults");
  });

  it("keeps its keys across restarts in the data directory", async () => {
    const keys = (await sandbox.get("/sandbox/v1/keys")).body;
    // Its world is locked by the running one; keys are what this checks.
    const again = await startTestSandbox({ seed: 7, data_dir: sandbox.data_dir, keep_state: false });
    try {
      expect((await again.get("/sandbox/v1/keys")).body).toEqual(keys);
    } finally {
      await again.close();
    }
  });

  it("sets the callback URL at runtime and exposes the networks' public keys", async () => {
    expect(await sandbox.send("PUT", "/sandbox/v1/config", { paycore_callback_url: "http://127.0.0.1:9/callbacks/channels" })).toMatchObject({ status: 200 });
    expect((await sandbox.get("/sandbox/v1/config")).body).toEqual({ paycore_callback_url: "http://127.0.0.1:9/callbacks/channels" });
    await sandbox.send("PUT", "/sandbox/v1/config", { paycore_callback_url: null });
    const keys = await sandbox.get<{ netsunion: { public_key_hex: string }; unionpay: { certificate_pem: string } }>("/sandbox/v1/keys");
    expect(keys.body.netsunion.public_key_hex).toMatch(/^04[0-9a-f]{128}$/);
    expect(keys.body.unionpay.certificate_pem).toContain("BEGIN CERTIFICATE");
    expect(JSON.stringify(keys.body)).not.toMatch(/PRIVATE/);
  });

  it("answers an unbind notice for a card with no agreement with 404", async () => {
    const response = await sandbox.send("POST", "/sandbox/v1/unbind-notice", { channel: "unionpay_nocard", card_number: "6222020000000000000" });
    expect(response.status).toBe(404);
  });

  it("puts 23:00 Beijing time and later into the next settlement day", () => {
    expect(settlementDate(new Date("2026-05-02T14:59:59Z"))).toBe("2026-05-02"); // 22:59:59
    expect(settlementDate(new Date("2026-05-02T15:00:00Z"))).toBe("2026-05-03"); // 23:00
    expect(settlementDate(new Date("2026-05-02T16:00:00Z"))).toBe("2026-05-03"); // 00:00 next day
    expect(settlementDate(new Date("2026-12-31T15:30:00Z"))).toBe("2027-01-01");
  });
});
