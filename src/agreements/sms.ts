import { LIMITS } from "../kernel/limits.ts";

/**
 * paycore's own text messages (step-up codes, campaign invitations) go through an SMS gateway.
 * Here that is the sandbox's gateway over HTTP; a real deployment puts its provider behind the
 * same interface.
 */
export interface SmsGateway {
  send(phone: string, text: string): Promise<void>;
}

const SMS_TIMEOUT_MS = 5_000;

export class HttpSmsGateway implements SmsGateway {
  constructor(private readonly base_url: string) {}

  async send(phone: string, text: string): Promise<void> {
    const res = await fetch(`${this.base_url}/sandbox/v1/sms`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ phone, text: text.slice(0, LIMITS.sms_text_chars_max) }),
      signal: AbortSignal.timeout(SMS_TIMEOUT_MS),
    });
    if (!res.ok) throw new Error(`SMS gateway answered ${res.status}`);
  }
}
