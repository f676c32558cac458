import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestMerchant, startTestApp, testUscc, type TestApp } from "../support/app.ts";

/** Operators find entities (list, search by name or USCC), see an entity's merchant IDs, and get every missing field at once. */
describe("admin: entities", () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ label: "entities" });
  });
  afterAll(async () => app.close());

  it("lists, searches by legal name or USCC, pages, and shows an entity's merchant IDs", async () => {
    const uscc = testUscc();
    const tea = await app.admin("POST", "/admin/v1/entities", { legal_name: "上海茶馆有限公司 Tea House", uscc });
    expect(tea.status).toBe(201);
    await app.admin("POST", "/admin/v1/entities", { legal_name: "Noodle Bar Ltd", uscc: testUscc() });
    const m = await createTestMerchant(app, { name: "Tea House online" }, tea.body.entity_id);
    await createTestMerchant(app, { name: "Tea House store 1", parent_merchant_id: m.merchant.merchant_id, settlement: { mode: "parent", cycle_days: 1 } }, tea.body.entity_id);

    const all = await app.admin("GET", "/admin/v1/entities?limit=1");
    expect(all.status).toBe(200);
    expect(all.body.data).toHaveLength(1);
    expect(all.body.next_cursor).toEqual(expect.any(String));
    const by_name = await app.admin("GET", `/admin/v1/entities?q=${encodeURIComponent("tea house")}`);
    expect(by_name.body.data.map((e: { entity_id: string }) => e.entity_id)).toEqual([tea.body.entity_id]);
    const by_uscc = await app.admin("GET", `/admin/v1/entities?q=${uscc}`);
    expect(by_uscc.body.data).toEqual([tea.body]);
    expect((await app.admin("GET", "/admin/v1/entities?q=%25")).body.data).toEqual([]);

    const detail = await app.admin("GET", `/admin/v1/entities/${tea.body.entity_id as string}`);
    expect(detail.body).toMatchObject({ entity_id: tea.body.entity_id, legal_name: tea.body.legal_name, uscc });
    expect(detail.body.merchants.map((x: { name: string; parent_merchant_id: string | null }) => [x.name, x.parent_merchant_id])).toEqual([
      ["Tea House online", null],
      ["Tea House store 1", m.merchant.merchant_id],
    ]);
  });

  it("reports every missing field at once", async () => {
    const entity = await app.admin("POST", "/admin/v1/entities", {});
    expect(entity.status).toBe(400);
    expect(entity.body.error).toMatchObject({ code: "invalid_request", message: "legal_name, uscc: required", field: "legal_name" });
    const merchant = await app.admin("POST", "/admin/v1/merchants", { name: "x" });
    expect(merchant.body.error.message).toMatch(/^entity_id, .*products.*, settlement.*: required$/);
  });
});
