import { SANDBOX_LIMITS } from "./limits.ts";
import type { StateTable } from "./persistence.ts";

export interface SmsMessage {
  at: Date;
  phone: string;
  text: string;
  otp: string | null;
}

const OTP_IN_TEXT = /验证码[:：]?\s*(\d{4,8})/;

const SEQ_DIGITS = 15;

/**
 * The SMS gateway's inbox: bounded per phone and in total, oldest dropped first. Messages are
 * kept in a state table keyed by their sequence number; the per-phone lists are rebuilt at load.
 */
export class SmsInbox {
  private readonly by_phone = new Map<string, SmsMessage[]>();
  private readonly order: { seq: string; message: SmsMessage }[] = [];
  private next_seq = 1;

  constructor(private readonly stored: StateTable<SmsMessage> | null = null) {
    if (!stored) return;
    const kept = [...stored.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [seq, message] of kept) {
      this.index(seq, message);
      this.next_seq = Number(seq) + 1;
    }
  }

  send(message: SmsMessage): void {
    const seq = String(this.next_seq++).padStart(SEQ_DIGITS, "0");
    this.stored?.set(seq, message);
    this.index(seq, message);
  }

  private index(seq: string, message: SmsMessage): void {
    const list = this.by_phone.get(message.phone) ?? [];
    list.push(message);
    if (list.length > SANDBOX_LIMITS.sms_per_phone_max) {
      const dropped = list.shift()!;
      const at = this.order.findIndex((entry) => entry.message === dropped);
      if (at >= 0) this.stored?.delete(this.order.splice(at, 1)[0]!.seq);
    }
    this.by_phone.set(message.phone, list);
    this.order.push({ seq, message });
    if (this.order.length > SANDBOX_LIMITS.sms_total_max) {
      const dropped = this.order.shift();
      if (dropped) {
        this.stored?.delete(dropped.seq);
        this.forget(dropped.message);
      }
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
    return this.order.slice(-count).map((entry) => entry.message).reverse();
  }

  private forget(message: SmsMessage): void {
    const list = this.by_phone.get(message.phone);
    if (!list) return;
    const index = list.indexOf(message);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.by_phone.delete(message.phone);
  }
}
