import { createRequire } from "node:module";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseTimestamptz } from "./timestamptz.ts";

const parseDate = createRequire(import.meta.url)("postgres-date") as (text: string) => Date | number | null;

const same = (text: string) => {
  const ours = parseTimestamptz(text);
  const pgs = parseDate(text);
  if (ours instanceof Date && pgs instanceof Date) expect([text, ours.getTime()]).toEqual([text, pgs.getTime()]);
  else expect([text, ours]).toEqual([text, pgs]);
};

const two = (n: number) => String(n).padStart(2, "0");

/** A timestamptz as PostgreSQL writes it: the fraction without trailing zeros, the offset's minutes and seconds only when not zero. */
const written = fc
  .record({
    at: fc.integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9999, 11, 31, 23, 59, 59) }),
    micros: fc.integer({ min: 0, max: 999_999 }),
    offset_hours: fc.integer({ min: -15, max: 15 }),
    offset_minutes: fc.constantFrom(0, 0, 30, 45),
    offset_seconds: fc.constantFrom(0, 0, 0, 17),
  })
  .map(({ at, micros, offset_hours, offset_minutes, offset_seconds }) => {
    const iso = new Date(at - (at % 1000)).toISOString(); // the wall clock, as if in the offset's zone
    const fraction = micros === 0 ? "" : `.${String(micros).padStart(6, "0").replace(/0+$/, "")}`;
    let offset = `${offset_hours < 0 ? "-" : "+"}${two(Math.abs(offset_hours))}`;
    if (offset_minutes || offset_seconds) offset += `:${two(offset_minutes)}`;
    if (offset_seconds) offset += `:${two(offset_seconds)}`;
    return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction}${offset}`;
  });

describe("timestamptz text", () => {
  it("gives the Date pg's parser gives for what PostgreSQL writes", () => {
    fc.assert(fc.property(written, (text) => same(text)), { numRuns: 5_000 });
  });

  it("gives the same answer as pg's parser for anything else (it is the fallback)", () => {
    for (const text of [
      "infinity", "-infinity", "0099-01-01 00:00:00+00", "0001-01-01 00:00:00+00 BC", "2026-12-03 07:00:00+00 BC", "2026-12-03", "2026-12-03 07:00:00",
      "2026-12-03 07:00:00.+00", "2026-12-03 07:00:00Z", "2026-12-03T07:00:00+00", "2026-12-03 07:00:00+0", "2026-12-03 07:00:00+08:3", "2026-12-03 07:00:00+08:30:1",
      "2026-12-03 07:00:00.123456+08:30:15", "2026-12-03 24:00:00+00", "2026-13-03 07:00:00+00", "12026-12-03 07:00:00+00", "2026-12-03 07:00:00.1234567+00", "2X26-12-03 07:00:00+00", "", "x",
    ]) same(text);
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (text) => same(text)), { numRuns: 5_000 });
    fc.assert(
      fc.property(written, fc.nat(40), fc.string({ maxLength: 2 }), (text, at, junk) => same(text.slice(0, at % text.length) + junk + text.slice(at % text.length))),
      { numRuns: 5_000 },
    );
  });
});
