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
import { createPayoutDeps, DEFAULT_RESERVE_ACCOUNT, HttpRailGateway, type PayoutDeps } from "../../src/payouts/index.ts";
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

/** A sandbox (its rails' batches and returns shortened) and a line to its rails sharing its keys. */
export interface RailsSandbox extends RunningSandbox {
  data_dir: string;
  /** Payout dependencies of `ctx` with the gateway to this sandbox's rails. */
  payouts(ctx: Ctx): PayoutDeps;
}

/** `clock`: the sandbox's clock (rail hours), shared with the world's so both see the same time. */
export async function openSandbox(options: { clock?: ManualClock; data_dir?: string } = {}): Promise<RailsSandbox> {
  const data_dir = options.data_dir ?? mkdtempSync(join(tmpdir(), "paycore-ledger-sbx-"));
  const sandbox = await startSandbox({
    port: 0, data_dir, log: createLogger("silent"),
    ...(options.clock ? { clock: options.clock } : {}),
    rails: { beps_batch_interval_ms: 300, return_delay_ms: 300, forward_delay_ms: 200, tick_ms: 50 },
  });
  return { ...sandbox, data_dir, payouts: (ctx) => createPayoutDeps(ctx, new HttpRailGateway(sandbox.url, data_dir, { ...DEFAULT_RESERVE_ACCOUNT })) };
}

/** What the sandbox rails say an account received: settled credits, less those sent back, in fen. */
export async function receivedBy(sandbox_url: string, account_number: string): Promise<bigint> {
  const res = await fetch(`${sandbox_url}/sandbox/v1/rails/credits?account_number=${account_number}`);
  const body = (await res.json()) as { data: { amount: number; returned_at: string | null }[] };
  return body.data.filter((t) => t.returned_at === null).reduce((s, t) => s + BigInt(t.amount), 0n);
}

/** Makes the sandbox payee bank reject every credit to this account (the world's "Shop Co." ICBC accounts). */
export async function rejectingPayee(sandbox_url: string, account_number: string, bank_code = "102290000012"): Promise<void> {
  const res = await fetch(`${sandbox_url}/sandbox/v1/payees`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ account_name: "Shop Co.", account_number, bank_code, behaviour: "reject" }),
  });
  if (res.status !== 201) throw new Error(`sandbox payees answered ${res.status}`);
}
