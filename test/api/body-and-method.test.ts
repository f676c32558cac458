import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";

type ErrorBody = { error: { code: string; message: string; field?: string } };

/** A body that is not a JSON object is told so as a whole; a path with the wrong method is a 405 with Allow. */
describe("the HTTP edge: body shape and method", () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ label: "bodyshape" });
  });
  afterAll(async () => app.close());

  const send = async (method: string, path: string, body: string | undefined, content_type?: string) => {
    const res = await fetch(app.url + path, {
      method,
      headers: { authorization: `Bearer ${app.admin_token}`, ...(content_type ? { "content-type": content_type } : {}) },
      ...(body === undefined ? {} : { body }),
    });
    return { status: res.status, allow: res.headers.get("allow"), body: (await res.json()) as ErrorBody };
  };

  it("says what is wrong with a body that is not a JSON object", async () => {
    const cases: [string | undefined, string | undefined, RegExp][] = [
      ['{"legal_name":"x"}', "text/plain", /^body: send a JSON object with Content-Type: application\/json \(got text\/plain\)$/],
      ["legal_name=x&uscc=y", "application/x-www-form-urlencoded", /\(got application\/x-www-form-urlencoded\)$/],
      [undefined, undefined, /\(no Content-Type was sent\)$/],
      ["[1,2]", "application/json", /^body: must be a JSON object, not an array$/],
      ['"text"', "application/json", /^body: must be a JSON object, not a string$/],
      ["null", "application/json", /^body: must be a JSON object, not null$/],
      ["", "application/json", /^body: required: a JSON object$/],
    ];
    for (const [body, type, message] of cases) {
      const res = await send("POST", "/admin/v1/entities", body, type);
      expect(res.status, `${type} ${body}`).toBe(400);
      expect(res.body.error).toMatchObject({ code: "invalid_request", field: "body" });
      expect(res.body.error.message, `${type} ${body}`).toMatch(message);
    }
  });

  it("answers 405 with Allow for a known path and a wrong method, 404 for an unknown path", async () => {
    const wrong = await send("DELETE", "/admin/v1/merchants", undefined);
    expect(wrong.status).toBe(405);
    expect(wrong.body.error.code).toBe("method_not_allowed");
    expect(wrong.allow?.split(", ")).toEqual(expect.arrayContaining(["GET", "POST"]));
    const m = await createTestMerchant(app);
    const put = await send("PUT", `/admin/v1/merchants/${m.merchant.merchant_id as string}`, "{}", "application/json");
    expect(put.status).toBe(405);
    expect(put.allow).toContain("PATCH");
    const missing = await send("GET", "/admin/v1/no-such-thing", undefined);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("not_found");
  });
});
