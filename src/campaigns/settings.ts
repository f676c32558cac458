import { z } from "zod";
import { CAMPAIGN_LIMITS } from "./limits.ts";

/**
 * Where invitation links point and how long they live. `public_url` is paycore's public address
 * (`PAYCORE_PUBLIC_URL`); without it the link uses the host the merchant's request came to, which
 * suits development and tests but lets a caller choose the host: set it in production.
 */
export interface CampaignSettings {
  public_url: string | undefined;
  link_ttl_hours_default: number;
}

const EnvSchema = z.object({
  PAYCORE_PUBLIC_URL: z.url({ protocol: /^https?$/ }).max(CAMPAIGN_LIMITS.public_base_url_chars_max).optional(),
  PAYCORE_CAMPAIGN_LINK_TTL_HOURS: z.coerce.number().int().min(1).max(CAMPAIGN_LIMITS.link_ttl_hours_max).default(CAMPAIGN_LIMITS.link_ttl_hours_default),
});

export function campaignSettingsFromEnv(env: Record<string, string | undefined> = process.env): CampaignSettings {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid configuration: ${String(issue.path[0] ?? "campaigns")}: ${issue.message}`);
  }
  return { public_url: parsed.data.PAYCORE_PUBLIC_URL?.replace(/\/+$/, ""), link_ttl_hours_default: parsed.data.PAYCORE_CAMPAIGN_LINK_TTL_HOURS };
}
