import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeFinding, fuzz } from "./fuzz.ts";
import { fuzzTarget } from "./fuzz-target.ts";

/**
 * The endpoint fuzzer in its bounded form (the long form is `npm run fuzz`, 10,000 requests):
 * generated requests to every operation of /openapi.json, signed for merchant routes and with an
 * operator token for admin routes. Every answer is 2xx or 4xx with the error object, never 5xx, and
 * no main table changes on a 4xx. The seed is printed; PAYCORE_FUZZ_SEED replays it.
 */
const REQUESTS = Number(process.env.PAYCORE_FUZZ_REQUESTS ?? 600);
const SEED = process.env.PAYCORE_FUZZ_SEED ? Number(process.env.PAYCORE_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);

describe("fuzzing every endpoint", () => {
  let target: Awaited<ReturnType<typeof fuzzTarget>>;
  beforeAll(async () => {
    target = await fuzzTarget();
  }, 120_000);
  afterAll(async () => target?.close());

  it(`${REQUESTS} generated requests: never a 5xx, the error object on every 4xx, nothing changed by a 4xx`, async () => {
    console.log(`fuzz seed ${SEED} (replay: PAYCORE_FUZZ_SEED=${SEED}, or npm run fuzz -- --requests ${REQUESTS} --seed ${SEED})`);
    const findings = await fuzz(target, { seed: SEED, requests: REQUESTS });
    expect(findings.map(describeFinding), `seed ${SEED}`).toEqual([]);
  }, 600_000);
});
