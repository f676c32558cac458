import openapiTS, { astToString } from "openapi-typescript";

/**
 * The SDK's types are generated from paycore's own OpenAPI document (GET /openapi.json) by
 * openapi-typescript, never copied by hand. Only the merchant Open API (`/v1/…`) goes into the
 * merchant SDK; `servers` is dropped so the output does not depend on where the server ran.
 */
export const GENERATED_PATH = new URL("../src/generated/openapi.ts", import.meta.url);

type Doc = { paths?: Record<string, unknown>; servers?: unknown } & Record<string, unknown>;

export function merchantDocument(doc: Doc): Doc {
  const paths = Object.fromEntries(Object.entries(doc.paths ?? {}).filter(([path]) => path.startsWith("/v1/")));
  const { servers: _servers, ...rest } = doc;
  return { ...rest, paths };
}

const HEADER = `/**
 * Generated from paycore's GET /openapi.json by openapi-typescript — do not edit.
 * Regenerate: PAYCORE_UPDATE_SDK_TYPES=1 npx vitest run test/sdk/types.test.ts, or start paycore
 * (npm start) and run \`npm run generate -w @paycore/sdk\`
 * (PAYCORE_OPENAPI_URL to use another server). test/sdk/types.test.ts fails when this is stale.
 */
`;

export async function generateTypes(doc: Doc): Promise<string> {
  const ast = await openapiTS(merchantDocument(doc) as unknown as Parameters<typeof openapiTS>[0]);
  return HEADER + astToString(ast);
}
