import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GENERATED_PATH, generateTypes } from "../../sdk/scripts/openapi-types.ts";
import { startTestApp, type TestApp } from "../support/app.ts";

/**
 * The SDK's types are generated from the server's own OpenAPI document: when a route or schema
 * changes and nobody regenerated them, this fails and says how to regenerate.
 */
describe("SDK types are generated from GET /openapi.json and up to date", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ label: "sdk_types" });
  });
  afterAll(async () => app?.close());

  it("sdk/src/generated/openapi.ts is what openapi-typescript makes of the served document", async () => {
    const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as Record<string, unknown>;
    const fresh = await generateTypes(doc);
    // After a deliberate API change: PAYCORE_UPDATE_SDK_TYPES=1 npx vitest run test/sdk/types.test.ts
    if (process.env.PAYCORE_UPDATE_SDK_TYPES === "1") writeFileSync(GENERATED_PATH, fresh);
    const committed = readFileSync(GENERATED_PATH, "utf8");
    expect(fresh.length).toBeGreaterThan(1_000);
    expect(fresh).toContain('"/v1/payments"');
    expect(committed === fresh, "SDK types are stale: run `PAYCORE_UPDATE_SDK_TYPES=1 npx vitest run test/sdk/types.test.ts` (or `npm run generate -w @paycore/sdk` against npm start) and commit sdk/src/generated/openapi.ts").toBe(true);
  });
});
