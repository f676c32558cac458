import { randomBytes } from "node:crypto";
import type { SecretBox } from "../kernel/crypto/index.ts";
import { safeEqual } from "../kernel/crypto/index.ts";
import { CAMPAIGN_LIMITS } from "./limits.ts";

/**
 * Link tokens are bearer secrets: 256 random bits, shown once (in the SMS), stored only as a
 * keyed hash. Form tokens are MACs over the invitation and the step the page is at, so a form
 * only works for the link it was served on and only once per state.
 */
const TOKEN_RE = new RegExp(`^[A-Za-z0-9_-]{${CAMPAIGN_LIMITS.token_chars}}$`);

export function newLinkToken(): string {
  return randomBytes(CAMPAIGN_LIMITS.token_bytes).toString("base64url");
}

export function isLinkTokenShape(token: string): boolean {
  return TOKEN_RE.test(token);
}

export function linkTokenHash(box: SecretBox, token: string): string {
  return box.fingerprint("campaign_link", token);
}

export type FormStep = "card" | "code";

/** Bound to the invitation, the step and that step's state (attempt number or sign request). */
export function formToken(box: SecretBox, invitation_id: string, step: FormStep, state: string): string {
  return box.fingerprint("campaign_form", `${invitation_id}\n${step}\n${state}`).slice(0, 43);
}

export function formTokenValid(box: SecretBox, invitation_id: string, step: FormStep, state: string, given: string): boolean {
  return safeEqual(formToken(box, invitation_id, step, state), given);
}
