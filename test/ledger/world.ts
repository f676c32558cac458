import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { DEFAULT_SETTINGS, type Ctx } from "../../src/context.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { SecretBox } from "../../src/kernel/crypto/index.ts";
import { createLogger } from "../../src/kernel/log.ts";
import { createEntity, createMerchant } from "../../src/merchants/index.ts";
import { startSandbox, type RunningSandbox } from "../../src/sandbox/index.ts";
import { createTestDatabase } from "../support/db.ts";
import { testUscc } from "../support/app.ts";

/**
 * A ledger test world: a fresh schema on the run's engine, a domain context with a manual clock,
 * and helpers that create entities and merchant IDs through the merchants module.
 */
export interface World {
  ctx: Ctx;
  clock: ManualClock;
  entity(): Promise<string>;
  merchant(options: MerchantOptions): Promise<string>;
  close(): Promise<void>;
}

export interface MerchantOptions {
  entity_id: string;
  parent_merchant_id?: string;
  mode?: "own" | "parent";
  cycle_days?: number;
  fee_rate_bps?: number;
  fee_min?: number;
  account_number?: string;
  product?: "agreement_pay" | "payout";
}

const ACTOR = { operator_id: "op_test", request_id: "req_test" };

/** A random 19-digit account number ending in 1 (never a sandbox test account). */
export function accountNumber(): string {
  const digits = [...randomBytes(17)].map((b) => String(b % 10)).join("");
  return `62${digits.slice(0, 16)}1`;
}

export async function openWorld(label: string, start = "2026-03-02T01:00:00Z"): Promise<World> {
  const handle = await createTestDatabase(label);
  const clock = new ManualClock(start);
  const sink = new Writable({ write: (_c, _e, done) => done() });
  const ctx: Ctx = { db: handle.db, clock, box: new SecretBox(randomBytes(32)), log: createLogger("warn", sink), settings: DEFAULT_SETTINGS };
  return {
    ctx,
    clock,
    async entity() {
      const { entity } = await createEntity(ctx, { legal_name: `Entity ${randomBytes(3).toString("hex")}`, uscc: testUscc() }, ACTOR);
      return entity.entity_id;
    },
    async merchant(o) {
      const mode = o.mode ?? "own";
      const { merchant } = await createMerchant(
        ctx,
        {
          entity_id: o.entity_id,
          name: "Shop",
          business_category: "retail",
          risk_level: "low",
          ...(o.parent_merchant_id ? { parent_merchant_id: o.parent_merchant_id } : {}),
          products: [{ product: o.product ?? "agreement_pay", fee_rate_bps: o.fee_rate_bps ?? 60, fee_min: o.fee_min ?? 1 }],
          settlement: {
            mode,
            cycle_days: o.cycle_days ?? 1,
            ...(mode === "own" ? { account: { account_name: "Shop Co.", account_number: o.account_number ?? accountNumber(), bank_code: "102290000012" } } : {}),
          },
        },
        ACTOR,
      );
      return merchant.row.merchant_id;
    },
    close: () => handle.drop(),
  };
}

export async function openSandbox(): Promise<RunningSandbox> {
  return startSandbox({ port: 0, data_dir: mkdtempSync(join(tmpdir(), "paycore-ledger-sbx-")) });
}

/** What the sandbox bank says an account received (succeeded transfers), in fen. */
export async function receivedBy(sandbox_url: string, account_number: string): Promise<bigint> {
  const res = await fetch(`${sandbox_url}/sandbox/v1/transfers?account_number=${account_number}`);
  const body = (await res.json()) as { data: { amount: number; status: string }[] };
  return body.data.filter((t) => t.status === "succeeded").reduce((s, t) => s + BigInt(t.amount), 0n);
}
