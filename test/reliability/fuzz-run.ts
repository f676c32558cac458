/**
 * `npm run fuzz -- [--requests N] [--seed S]`: the long form of test/reliability/fuzz.test.ts
 * (10,000 requests by default), on the embedded database or on DATABASE_URL. Prints progress,
 * the seed, and every finding; exits 1 when there is one.
 */
import { parseArgs } from "node:util";
import { describeFinding, fuzz } from "./fuzz.ts";
import { fuzzTarget } from "./fuzz-target.ts";

const { values } = parseArgs({ options: { requests: { type: "string", default: "10000" }, seed: { type: "string" } } });
const requests = Number(values.requests);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isSafeInteger(requests) || requests < 1 || !Number.isSafeInteger(seed)) {
  console.error("usage: npm run fuzz -- [--requests N] [--seed S]");
  process.exit(2);
}
console.log(`fuzz: seed ${seed}, ${requests} requests, ${process.env.DATABASE_URL ? "PostgreSQL" : "embedded database"}`);
const started = Date.now();
const target = await fuzzTarget();
let findings;
try {
  findings = await fuzz(target, {
    seed,
    requests,
    onProgress: (done) => {
      if (done % 500 === 0) console.log(`  ${done}/${requests} sent (${Math.round((Date.now() - started) / 1000)} s)`);
    },
  });
} finally {
  await target.close();
}
for (const f of findings) console.log(describeFinding(f));
console.log(`fuzz: ${findings.length} findings in ${Math.round((Date.now() - started) / 1000)} s; replay with npm run fuzz -- --requests ${requests} --seed ${seed}`);
process.exit(findings.length ? 1 : 0);
