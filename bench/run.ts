/** `npm run bench`: every benchmark, each printing a table. Never part of `npm test`. */
import { benchPayments } from "./payments.ts";
import { benchRisk } from "./risk.ts";

const benches: [string, () => Promise<Record<string, string | number>[]>][] = [["payments", benchPayments], ["risk", benchRisk]];
const only = process.argv[2];
for (const [name, run] of benches) {
  if (only && only !== name) continue;
  console.log(`\n== ${name}`);
  console.table(await run());
}
process.exit(0);
