import type { Config } from "../config.ts";
import { migrate } from "../db/index.ts";
import { listMerchantScores, runMonitor } from "../risk/index.ts";
import { openContext } from "./main.ts";

/** `paycore risk monitor`: score every merchant ID now, with progress, and list the flagged ones. */
export async function riskCommand(config: Config, args: string[]): Promise<number> {
  if (args[0] !== "monitor" || args.length !== 1) {
    console.error("usage: paycore risk monitor");
    return 2;
  }
  const { ctx, handle } = await openContext(config);
  try {
    await migrate(handle.db);
    let last_tenth = -1;
    const run = (await runMonitor(ctx, {
      triggered_by: "cli",
      on_progress: (p) => {
        const tenth = p.total === 0 ? 10 : Math.floor((p.done * 10) / p.total);
        if (tenth === last_tenth && p.done !== p.total) return;
        last_tenth = tenth;
        console.log(`  scoring merchant IDs: ${p.done}/${p.total}`);
      },
    }))!;
    console.log(`run ${run.run_id}: ${run.merchants} merchant IDs scored, ${run.flagged} flagged, ${run.held} settlement holds placed`);
    let cursor: string | undefined;
    do {
      const page = await listMerchantScores(ctx.db, { flagged: true, limit: 100, cursor });
      for (const m of page.data) {
        const top = m.signals.filter((s) => s.contribution > 0).slice(0, 3).map((s) => `${s.name} +${s.contribution}`).join(", ");
        console.log(`  ${m.merchant_id} score ${m.score}: ${top}`);
      }
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return 0;
  } finally {
    await handle.close();
  }
}
