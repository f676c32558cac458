import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOperator } from "../../src/operators/index.ts";
import { startTestApp, type TestApp } from "../support/app.ts";

/**
 * GET /admin/v1/session: the console's buttons follow what the admin API allows the token's role,
 * read off the route table itself — checked here against what the API then actually answers.
 */
describe("admin session: who the token is and what its role may call", () => {
  let app: TestApp;
  let operator = "", auditor = "";

  beforeAll(async () => {
    app = await startTestApp({ label: "session" });
    operator = (await createOperator(app.ctx, { name: "olga", role: "operator" })).token;
    auditor = (await createOperator(app.ctx, { name: "aud", role: "auditor" })).token;
  });
  afterAll(async () => app.close());

  it("answers the operator's id, name and role, and refuses without a token", async () => {
    const me = await app.admin("GET", "/admin/v1/session", undefined, operator);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ name: "olga", role: "operator" });
    expect(me.body.operator_id).toMatch(/^op/);
    expect((await app.admin("GET", "/admin/v1/session", undefined, "nope")).status).toBe(401);
  });

  it("an auditor may call every read and no change; the API agrees", async () => {
    const me = (await app.admin("GET", "/admin/v1/session", undefined, auditor)).body as { allowed: string[]; approves: string[] };
    expect(me.allowed).toContain("GET /admin/v1/payments");
    expect(me.allowed).toContain("GET /admin/v1/channels");
    expect(me.allowed.filter((op) => !op.startsWith("GET "))).toEqual([]);
    expect(me.allowed).not.toContain("GET /admin/v1/operators"); // admin only
    expect(me.approves).toEqual([]);
    const refused = await app.admin("PATCH", "/admin/v1/channels/netsunion", { enabled: false }, auditor);
    expect(refused.status).toBe(403);
  });

  it("an operator may refund and suspend but not enable a channel or rotate keys (admin only)", async () => {
    const me = (await app.admin("GET", "/admin/v1/session", undefined, operator)).body as { allowed: string[]; approves: string[] };
    expect(me.allowed).toContain("POST /admin/v1/payments/:payment_id/refunds");
    expect(me.allowed).toContain("PATCH /admin/v1/merchants/:merchant_id");
    expect(me.allowed).not.toContain("PATCH /admin/v1/channels/:channel_id");
    expect(me.allowed).not.toContain("POST /admin/v1/merchants/:merchant_id/keys");
    expect(me.approves).toContain("merchant.settlement_change");
    expect(me.approves).not.toContain("channel.cost_or_endpoint"); // another admin approves costs
    expect((await app.admin("PATCH", "/admin/v1/channels/netsunion", { enabled: false }, operator)).status).toBe(403);
  });

  it("an admin may call everything", async () => {
    const me = (await app.admin("GET", "/admin/v1/session")).body as { role: string; allowed: string[]; approves: string[] };
    expect(me.role).toBe("admin");
    expect(me.allowed).toContain("PATCH /admin/v1/channels/:channel_id");
    expect(me.allowed).toContain("POST /admin/v1/operators");
    expect(me.approves).toContain("channel.cost_or_endpoint");
  });
});
