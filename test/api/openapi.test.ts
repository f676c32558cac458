import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";

type Operation = { operationId?: string; responses: Record<string, { description: string; content?: { "application/json": { schema: unknown } } }> };
type Doc = { paths: Record<string, Record<string, Operation>> };

/** An SDK generator needs a stable operationId per operation and the error answers each can give. */
describe("OpenAPI: operationIds and error responses", () => {
  let app: TestApp;
  let doc: Doc;

  beforeAll(async () => {
    app = await startTestApp({ label: "openapi" });
    doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as Doc;
  });
  afterAll(async () => app.close());

  const operations = () => Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
  const codesOf = (op: Operation, status: string) =>
    ((op.responses[status]?.content?.["application/json"].schema as { allOf: [unknown, { properties: { error: { properties: { code: { enum: string[] } } } } }] }) ?? null)?.allOf[1].properties.error.properties.code.enum ?? [];

  it("gives every operation a unique operationId, with stable names for the money path", () => {
    const ids = operations().map(({ op }) => op.operationId);
    expect(ids.filter((id) => typeof id !== "string" || !/^[a-z][A-Za-z]+$/.test(id))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    const id = (path: string, method: string) => doc.paths[path]![method]!.operationId;
    expect({
      create_payment: id("/v1/payments", "post"),
      list_payments: id("/v1/payments", "get"),
      get_payment: id("/v1/payments/{payment_id}", "get"),
      refund: id("/v1/payments/{payment_id}/refunds", "post"),
      sign: id("/v1/agreements", "post"),
      confirm: id("/v1/agreements/confirm", "post"),
      unbind: id("/v1/agreements/{agreement_id}/unbind", "post"),
      balance: id("/v1/balance", "get"),
      admin_merchant: id("/admin/v1/merchants/{merchant_id}", "patch"),
    }).toEqual({
      create_payment: "createPayment", list_payments: "listPayments", get_payment: "getPayment", refund: "createPaymentRefund",
      sign: "createAgreement", confirm: "confirmAgreement", unbind: "unbindAgreement", balance: "getBalance", admin_merchant: "adminUpdateMerchant",
    });
  });

  it("documents the error object and the codes each operation can answer, by status", () => {
    for (const { path, method, op } of operations()) {
      expect(Object.keys(op.responses).some((s) => /^[45]\d\d$/.test(s)), `${method} ${path}`).toBe(true);
      expect(codesOf(op, "500"), `${method} ${path}`).toEqual(["internal"]);
    }
    const pay = doc.paths["/v1/payments"]!.post!;
    expect(codesOf(pay, "400")).toEqual(["invalid_request"]);
    expect(codesOf(pay, "401")).toEqual(expect.arrayContaining(["invalid_signature", "replayed_request"]));
    expect(codesOf(pay, "409")).toEqual(expect.arrayContaining(["duplicate_out_trade_no", "idempotency_conflict"]));
    expect(codesOf(pay, "422")).toEqual(expect.arrayContaining(["resign_required", "limit_exceeded", "agreement_inactive"]));
    expect(codesOf(pay, "503")).toEqual(expect.arrayContaining(["channel_unavailable", "service_unavailable"]));
    const refund = doc.paths["/v1/payments/{payment_id}/refunds"]!.post!;
    expect(codesOf(refund, "409")).toContain("duplicate_out_refund_no");
    expect(codesOf(refund, "422")).toEqual(expect.arrayContaining(["payment_not_refundable", "amount_exceeds_refundable"]));
    expect(codesOf(refund, "404")).toEqual(["not_found"]);
    const admin = doc.paths["/admin/v1/merchants"]!.get!;
    expect(codesOf(admin, "401")).toEqual(["unauthorized"]);
    expect(codesOf(admin, "403")).toEqual(["forbidden"]);
  });
});
