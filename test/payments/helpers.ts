import type { PaycoreClient } from "../../src/client/index.ts";
import type { TestApp } from "../support/app.ts";

export interface SandboxCard {
  card_number: string;
  holder_name: string;
  id_number: string;
  phone: string;
  bank_code: string;
  card_type: "debit" | "credit";
  unified: boolean;
  status: string;
  balance: number;
  cvn2?: string;
  expiry?: string;
}

export async function catalogue(app: TestApp): Promise<SandboxCard[]> {
  const res = await app.sandbox!.get<{ data: SandboxCard[] }>("/sandbox/v1/cards");
  return res.body.data;
}

/** A normal card with money, by bank registry membership and type. */
export function pickCard(cards: SandboxCard[], want: { unified: boolean; card_type?: "debit" | "credit"; skip?: string[] }): SandboxCard {
  const card = cards.find(
    (c) => c.unified === want.unified && c.card_type === (want.card_type ?? "debit") && c.status === "normal" && c.balance >= 100_000 && !(want.skip ?? []).includes(c.card_number),
  );
  if (!card) throw new Error(`no sandbox card for ${JSON.stringify(want)}`);
  return card;
}

export function cardBody(c: SandboxCard) {
  return {
    holder_name: c.holder_name,
    id_type: "resident_id",
    id_number: c.id_number,
    card_number: c.card_number,
    phone: c.phone,
    ...(c.card_type === "credit" ? { cvn2: c.cvn2, expiry: c.expiry } : {}),
  };
}

export async function smsFor(app: TestApp, phone: string): Promise<{ at: string; text: string; otp: string | null }[]> {
  return (await app.sandbox!.get<{ data: { at: string; text: string; otp: string | null }[] }>(`/sandbox/v1/sms?phone=${phone}`)).body.data;
}

export async function lastOtp(app: TestApp, phone: string): Promise<string> {
  const list = await smsFor(app, phone);
  const otp = list.at(-1)?.otp;
  if (!otp) throw new Error(`no code in the SMS inbox of ${phone}`);
  return otp;
}

type Json = Record<string, unknown> & { error?: { code: string; message: string } };

/** Signs a card at a merchant with the bank's code from the SMS inbox; answers the agreement id. */
export async function signCard(app: TestApp, client: PaycoreClient, card: SandboxCard, out_request_no: string, user_ref = "u-1"): Promise<string> {
  const start = await client.post<Json>("/v1/agreements", { out_request_no, user_ref, card: cardBody(card) });
  if (start.status !== 201) throw new Error(`sign start: ${start.status} ${start.text}`);
  if (start.body.status === "already_signed") return start.body.agreement_id as string;
  const confirm = await client.post<Json>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp: await lastOtp(app, card.phone) });
  if (confirm.status !== 201) throw new Error(`sign confirm: ${confirm.status} ${confirm.text}`);
  return confirm.body.agreement_id as string;
}
