import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { GENERATED_PATH, generateTypes } from "./openapi-types.ts";

const url = process.env.PAYCORE_OPENAPI_URL ?? "http://127.0.0.1:3000/openapi.json";
const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
writeFileSync(GENERATED_PATH, await generateTypes((await res.json()) as Record<string, unknown>));
console.log(`wrote ${fileURLToPath(GENERATED_PATH)} from ${url}`);
