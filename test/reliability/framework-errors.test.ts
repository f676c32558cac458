import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";

/** Refusals that happen before a route runs still answer with paycore's error object. */
describe("errors before routing answer with the error object", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ label: "fwerr" });
  });
  afterAll(async () => {
    await app?.close();
  });

  const expectErrorObject = async (res: Response, status: number) => {
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: string; message: string; request_id: string } };
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.request_id).toMatch(/^req_/);
  };

  it("a path that is not valid percent-encoding: 400", async () => {
    await expectErrorObject(await fetch(`${app.url}/admin/v1/payments/%ff%fe`, { headers: { authorization: `Bearer ${app.admin_token}` } }), 400);
  });

  it("a path parameter past its length: 414", async () => {
    await expectErrorObject(await fetch(`${app.url}/admin/v1/merchants/${"x".repeat(300)}`, { headers: { authorization: `Bearer ${app.admin_token}` } }), 414);
  });

  it("a URL past the header size limit: 431 with the error object", async () => {
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const url = new URL(`${app.url}/v1/balance?q=${"x".repeat(20_000)}`);
      const req = httpRequest(url, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(431);
    expect(JSON.parse(text).error.code).toBe("invalid_request");
  });
});
