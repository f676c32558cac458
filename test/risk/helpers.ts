import { sql } from "kysely";
import type { PaycoreClient } from "../../src/client/index.ts";
import type { Ctx } from "../../src/context.ts";
import { connect } from "../../src/db/index.ts";
import { sharedPGlite, testDatabaseUrl } from "../support/db.ts";
import type { TestApp } from "../support/app.ts";
import { addCard, type SandboxCard } from "../support/sandbox.ts";
import { signCard } from "../payments/helpers.ts";

export type Json = Record<string, unknown> & { error?: { code: string; message: string } };

let serial = 0;

/** A fresh sandbox card signed at this merchant: answers the card and its agreement id. */
export async function freshAgreement(app: TestApp, client: PaycoreClient, fields: Partial<SandboxCard> = {}): Promise<{ card: SandboxCard; agreement_id: string }> {
  const card = await addCard(app.sandbox!, fields);
  serial += 1;
  const agreement_id = await signCard(app, client, card as Parameters<typeof signCard>[2], `risk-sign-${serial}-${Date.now()}`);
  return { card, agreement_id };
}

let trade = 0;
export async function pay(client: PaycoreClient, agreement_id: string, amount: number) {
  trade += 1;
  return client.post<Json>("/v1/payments", { out_trade_no: `risk-${trade}-${Date.now()}`, agreement_id, amount, currency: "CNY", description: "risk test" });
}

export async function addRule(app: TestApp, rule: Record<string, unknown>): Promise<string> {
  const res = await app.admin("POST", "/admin/v1/risk/rules", rule);
  if (res.status !== 201) throw new Error(`rule: ${JSON.stringify(res.body)}`);
  return res.body.rule_id as string;
}

/** Disables every rule, so one test's rules do not reach the next. */
export async function clearRules(app: TestApp): Promise<void> {
  const list = await app.admin("GET", "/admin/v1/risk/rules?limit=100");
  for (const r of list.body.data as { rule_id: string; enabled: boolean }[]) {
    if (r.enabled) await app.admin("PATCH", `/admin/v1/risk/rules/${r.rule_id}`, { enabled: false });
  }
}

/**
 * A second database handle on the app's schema, with a context of its own: what another paycore
 * process on the same database has (its own configuration cache; the app's cache never sees its
 * writes except through config_version).
 */
export async function otherProcess(app: TestApp): Promise<{ ctx: Ctx; close(): Promise<void> }> {
  const r = await sql<{ s: string }>`SELECT current_schema() AS s`.execute(app.ctx.db);
  const schema = r.rows[0]!.s;
  const url = testDatabaseUrl();
  const handle = url ? await connect({ database_url: url, schema, pool_size_max: 2 }) : await connect({ pglite: await sharedPGlite(), schema });
  return { ctx: { ...app.ctx, db: handle.db }, close: () => handle.close() };
}
