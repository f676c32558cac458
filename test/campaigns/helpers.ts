import { expect } from "vitest";
import type { TestApp } from "../support/app.ts";
import { smsFor, type SandboxCard } from "../payments/helpers.ts";

/** A hosted signing page as the cardholder's browser sees it: status, HTML, the form token. */
export interface Page {
  status: number;
  html: string;
  form_token: string | null;
}

function toPage(status: number, html: string): Page {
  return { status, html, form_token: /name="form_token" value="([^"]+)"/.exec(html)?.[1] ?? null };
}

export async function getPage(url: string): Promise<Page> {
  const res = await fetch(url);
  expect(res.headers.get("content-type")).toContain("text/html");
  return toPage(res.status, await res.text());
}

/** Posts the page's form as a browser without JavaScript would. */
export async function postForm(url: string, fields: Record<string, string>): Promise<Page> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields).toString() });
  expect(res.headers.get("content-type")).toContain("text/html");
  return toPage(res.status, await res.text());
}

export function cardFields(card: SandboxCard, form_token: string): Record<string, string> {
  return {
    action: "card",
    form_token,
    holder_name: card.holder_name,
    id_number: card.id_number,
    card_number: card.card_number,
    ...(card.card_type === "credit" ? { cvn2: card.cvn2!, expiry: card.expiry! } : {}),
  };
}

/** The link in the newest invitation SMS to this phone. */
export async function invitationLink(app: TestApp, phone: string): Promise<string> {
  const invitation = (await smsFor(app, phone)).filter((m) => m.text.includes("/sign/")).at(-1);
  if (!invitation) throw new Error(`no invitation SMS for ${phone}`);
  const link = /(https?:\/\/\S+\/sign\/[A-Za-z0-9_-]+)/.exec(invitation.text)?.[1];
  if (!link) throw new Error("the invitation SMS carries no link");
  return link;
}

export function invitee(card: SandboxCard, user_ref: string) {
  return { user_ref, holder_name: card.holder_name, phone: card.phone };
}

/** A page must never carry the card number, the ID number or a CVN2 back to the browser. */
export function expectNoCardData(html: string, card: SandboxCard): void {
  expect(html).not.toContain(card.card_number);
  expect(html).not.toContain(card.id_number);
  if (card.cvn2) expect(html).not.toMatch(new RegExp(`value="${card.cvn2}"`));
  expect(html).not.toMatch(/\bat .+\.ts:\d+/); // no stack trace
}
