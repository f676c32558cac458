import type { Ctx } from "./context.ts";
import { usccCheckChar } from "./kernel/checks.ts";
import { createEntity, createMerchant, type Actor } from "./merchants/index.ts";

/**
 * Demo data for `npm start`: one entity (a retail group) with two merchant IDs and a store as a
 * sub-merchant settling to the group's account. Idempotent: a second start finds and reuses them.
 */
const DEMO_USCC_17 = "91310000MA1K00001";
export const DEMO_USCC = DEMO_USCC_17 + usccCheckChar(DEMO_USCC_17);

export interface DemoMerchant {
  name: string;
  merchant_id: string;
  key_id: string;
  secret: string;
  parent_merchant_id: string | null;
}

const SYSTEM: Actor = { operator_id: "system", request_id: "seed" };

export async function seedDemo(ctx: Ctx): Promise<{ entity_id: string; merchants: DemoMerchant[] }> {
  const { entity } = await createEntity(ctx, { legal_name: "Demo Retail Group Co., Ltd.", uscc: DEMO_USCC }, SYSTEM);
  const existing = await ctx.db.selectFrom("merchants").select("merchant_id").where("entity_id", "=", entity.entity_id).where("is_demo", "=", true).execute();
  if (existing.length === 0) await createDemoMerchants(ctx, entity.entity_id);
  return { entity_id: entity.entity_id, merchants: await demoCredentials(ctx, entity.entity_id) };
}

async function createDemoMerchants(ctx: Ctx, entity_id: string): Promise<void> {
  const account = (name: string, number: string) => ({ account_name: name, account_number: number, bank_code: "102290000012" });
  const shop = await createMerchant(
    ctx,
    {
      entity_id,
      name: "Demo Shop",
      business_category: "retail",
      risk_level: "low",
      products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }, { product: "payout", fee_rate_bps: 0, fee_min: 200 }],
      settlement: { mode: "own", cycle_days: 1, account: account("Demo Retail Group Co., Ltd.", "6222020200112233445") },
    },
    SYSTEM,
  );
  const insurance = await createMerchant(
    ctx,
    {
      entity_id,
      name: "Demo Insurance",
      business_category: "insurance",
      risk_level: "medium",
      products: [{ product: "agreement_pay", fee_rate_bps: 45, fee_min: 1 }],
      settlement: { mode: "own", cycle_days: 1, account: account("Demo Retail Group Co., Ltd. (insurance)", "6222020200556677889") },
    },
    SYSTEM,
  );
  const store = await createMerchant(
    ctx,
    {
      entity_id,
      name: "Demo Shop — Xuhui store",
      parent_merchant_id: shop.merchant.row.merchant_id,
      business_category: "retail",
      risk_level: "low",
      products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }],
      settlement: { mode: "parent", cycle_days: 1 },
    },
    SYSTEM,
  );
  const ids = [shop, insurance, store].map((m) => m.merchant.row.merchant_id);
  await ctx.db.updateTable("merchants").set({ is_demo: true }).where("merchant_id", "in", ids).execute();
}

/** Demo merchants' keys are printed at every start: they are demo data, not real merchants' secrets. */
async function demoCredentials(ctx: Ctx, entity_id: string): Promise<DemoMerchant[]> {
  const rows = await ctx.db
    .selectFrom("merchants")
    .innerJoin("api_keys", "api_keys.merchant_id", "merchants.merchant_id")
    .select(["merchants.merchant_id", "merchants.name", "merchants.parent_merchant_id", "api_keys.key_id", "api_keys.secret_enc"])
    .where("merchants.entity_id", "=", entity_id)
    .where("merchants.is_demo", "=", true)
    .where("api_keys.status", "=", "active")
    .where("api_keys.expires_at", "is", null)
    .orderBy("merchants.merchant_id")
    .orderBy("api_keys.key_id", "desc")
    .execute();
  const seen = new Set<string>();
  const out: DemoMerchant[] = [];
  for (const r of rows) {
    if (seen.has(r.merchant_id)) continue;
    seen.add(r.merchant_id);
    out.push({ name: r.name, merchant_id: r.merchant_id, key_id: r.key_id, secret: ctx.box.open(r.secret_enc, `api_key:${r.key_id}`), parent_merchant_id: r.parent_merchant_id });
  }
  return out;
}
