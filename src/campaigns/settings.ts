import { z } from "zod";
import { CAMPAIGN_LIMITS } from "./limits.ts";

/**
 * How long invitation links live. Where they point is `ctx.settings.public_url`
 * (`PAYCORE_PUBLIC_URL`), never the host a merchant's request came to.
 */
export interface CampaignSettings {
  link_ttl_hours_default: number;
}

const EnvSchema = z.object({
  PAYCORE_CAMPAIGN_LINK_TTL_HOURS: z.coerce.number().int().min(1).max(CAMPAIGN_LIMITS.link_ttl_hours_max).default(CAMPAIGN_LIMITS.link_ttl_hours_default),
});

export function campaignSettingsFromEnv(env: Record<string, string | undefined> = process.env): CampaignSettings {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid configuration: ${String(issue.path[0] ?? "campaigns")}: ${issue.message}`);
  }
  return { link_ttl_hours_default: parsed.data.PAYCORE_CAMPAIGN_LINK_TTL_HOURS };
}
