import { z } from "zod";
import { cnapsParticipant } from "../kernel/banks.ts";
import { isBankAccountNumber, isCnapsCode, isValidUscc } from "../kernel/checks.ts";
import { LIMITS } from "../kernel/limits.ts";
import { fenWire } from "../kernel/money-wire.ts";

/** Wire schemas of the admin merchant API: they validate input and generate the OpenAPI document. */

const name = z.string().trim().min(1).max(LIMITS.name_chars_max);
export const FenWire = fenWire(0);
const positiveFen = fenWire(1);
export const HttpUrl = z.url({ protocol: /^https?$/ }).max(LIMITS.url_chars_max);

export const EntityCreate = z.strictObject({
  legal_name: name,
  uscc: z
    .string()
    .trim()
    .toUpperCase()
    .refine(isValidUscc, "not a valid unified social credit code (GB 32100-2015 check character)"),
});

export const SettlementAccountWire = z.strictObject({
  account_name: name,
  account_number: z.string().trim().refine(isBankAccountNumber, "must be 8 to 32 digits"),
  bank_code: z
    .string()
    .trim()
    .refine(isCnapsCode, "must be a 12-digit CNAPS bank code")
    .refine((code) => cnapsParticipant(code) !== undefined, "not a participant in the CNAPS bank directory"),
});

export const ProductWire = z.strictObject({
  product: z.enum(["agreement_pay", "payout"]),
  fee_rate_bps: z.number().int().min(0).max(10_000),
  fee_min: FenWire.default(0),
});

export const SettlementWire = z.strictObject({
  mode: z.enum(["own", "parent"]),
  cycle_days: z.number().int().min(0).max(30).default(1),
  account: SettlementAccountWire.optional(),
});

export const LimitsWire = z.strictObject({
  card_daily_amount: positiveFen.nullable().optional(),
  card_daily_count: z.number().int().min(1).max(1_000_000).nullable().optional(),
  merchant_daily_amount: positiveFen.nullable().optional(),
});

const products = z
  .array(ProductWire)
  .min(1)
  .max(LIMITS.products_per_merchant_max)
  .refine((list) => new Set(list.map((p) => p.product)).size === list.length, "each product at most once");

export const MerchantCreate = z.strictObject({
  entity_id: z.string().min(1).max(64),
  name,
  parent_merchant_id: z.string().min(1).max(64).optional(),
  business_category: z.string().trim().min(1).max(64),
  risk_level: z.enum(["low", "medium", "high"]),
  products,
  settlement: SettlementWire,
  notify_url: HttpUrl.optional(),
  limits: LimitsWire.optional(),
  require_own_confirmation: z.boolean().optional(),
});

export const MerchantPatch = z.strictObject({
  name: name.optional(),
  business_category: z.string().trim().min(1).max(64).optional(),
  risk_level: z.enum(["low", "medium", "high"]).optional(),
  status: z.enum(["active", "suspended"]).optional(),
  products: products.optional(),
  settlement: SettlementWire.optional(),
  notify_url: HttpUrl.nullable().optional(),
  limits: LimitsWire.optional(),
  require_own_confirmation: z.boolean().optional(),
});

export const KeyRotate = z.strictObject({
  grace_hours: z.number().min(0).max(24 * 30).optional(),
});

export type EntityCreateInput = z.infer<typeof EntityCreate>;
export type MerchantCreateInput = z.infer<typeof MerchantCreate>;
export type MerchantPatchInput = z.infer<typeof MerchantPatch>;

// ---- answers ----

export const EntityOut = z.object({
  entity_id: z.string(),
  legal_name: z.string(),
  uscc: z.string(),
  payment_account_no: z.string(),
  created_at: z.string(),
});

export const MerchantOut = z.object({
  merchant_id: z.string(),
  entity_id: z.string(),
  parent_merchant_id: z.string().nullable(),
  name: z.string(),
  business_category: z.string(),
  risk_level: z.enum(["low", "medium", "high"]),
  status: z.enum(["active", "suspended"]),
  products: z.array(z.object({ product: z.string(), fee_rate_bps: z.number(), fee_min: z.number() })),
  settlement: z.object({
    mode: z.enum(["own", "parent"]),
    cycle_days: z.number(),
    account: z.object({ account_name: z.string(), account_number_last4: z.string(), bank_code: z.string() }).nullable(),
  }),
  notify_url: z.string().nullable(),
  limits: z.object({
    card_daily_amount: z.number().nullable(),
    card_daily_count: z.number().nullable(),
    merchant_daily_amount: z.number().nullable(),
  }),
  require_own_confirmation: z.boolean(),
  trusted_for_silent_reuse: z.boolean(),
  settlement_hold: z.object({ reason: z.string(), since: z.string() }).nullable().describe("Risk's settlement hold: its payouts wait until a second operator releases it (DELETE …/settlement-hold)"),
  created_at: z.string(),
  updated_at: z.string(),
});

export const ApiKeyCreated = z.object({ key_id: z.string(), secret: z.string() });
export const MerchantCreated = MerchantOut.extend({ api_key: ApiKeyCreated });
export const ApiKeyOut = z.object({
  key_id: z.string(),
  status: z.enum(["active", "revoked", "expired"]),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
});
