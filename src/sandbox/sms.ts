import { SANDBOX_LIMITS } from "./limits.ts";

export interface SmsMessage {
  at: Date;
  phone: string;
  text: string;
  otp: string | null;
}

const OTP_IN_TEXT = /验证码[:：]?\s*(\d{4,8})/;

/** The SMS gateway's inbox: bounded per phone and in total, oldest dropped first. */
export class SmsInbox {
  private readonly by_phone = new Map<string, SmsMessage[]>();
  private readonly order: SmsMessage[] = [];

  send(message: SmsMessage): void {
    const list = this.by_phone.get(message.phone) ?? [];
    list.push(message);
    if (list.length > SANDBOX_LIMITS.sms_per_phone_max) list.shift();
    this.by_phone.set(message.phone, list);
    this.order.push(message);
    if (this.order.length > SANDBOX_LIMITS.sms_total_max) {
      const dropped = this.order.shift();
      if (dropped) this.forget(dropped);
    }
  }

  static otpIn(text: string): string | null {
    return OTP_IN_TEXT.exec(text)?.[1] ?? null;
  }

  forPhone(phone: string): SmsMessage[] {
    return [...(this.by_phone.get(phone) ?? [])];
  }

  /** Newest first, for the inbox page. */
  recent(count: number): SmsMessage[] {
    return this.order.slice(-count).reverse();
  }

  private forget(message: SmsMessage): void {
    const list = this.by_phone.get(message.phone);
    if (!list) return;
    const index = list.indexOf(message);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.by_phone.delete(message.phone);
  }
}
