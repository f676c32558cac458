import { z } from "zod";
import { lookupBin, type BankInfo } from "../kernel/banks.ts";
import { isMobilePhone, luhnValid, residentIdProblem } from "../kernel/checks.ts";
import { invalidRequest } from "../kernel/errors.ts";

/**
 * The four elements (四要素) as a merchant submits them, checked before anything leaves paycore:
 * resident ID check character and birth date, card length and Luhn (only a warning for UnionPay
 * BINs, which do not all follow it), mobile format, and a bank we know from the BIN.
 */
export const CardWire = z.strictObject({
  holder_name: z.string().trim().min(2).max(32),
  id_type: z.literal("resident_id"),
  id_number: z.string().trim().toUpperCase().max(18),
  card_number: z.string().trim().max(19),
  phone: z.string().trim().max(11),
  cvn2: z.string().regex(/^\d{3}$/, "3 digits").optional(),
  expiry: z.string().regex(/^(0[1-9]|1[0-2])\d{2}$/, "MMYY").optional(),
});
export type CardWireInput = z.infer<typeof CardWire>;

export interface CardElements {
  holder_name: string;
  id_number: string;
  card_number: string;
  phone: string;
}

export interface CheckedCard {
  elements: CardElements;
  /** Credit cards only; travel to the network once, never stored. */
  cvn2: string | null;
  expiry: string | null;
  bank: BankInfo;
  card_type: "debit" | "credit";
  bin: string;
  warnings: string[];
}

export function checkCard(input: CardWireInput, today: Date, root = "card"): CheckedCard {
  const f = (name: string) => `${root}.${name}`;
  const id_problem = residentIdProblem(input.id_number, today);
  if (id_problem === "format") throw invalidRequest(f("id_number"), "must be 17 digits and a check character");
  if (id_problem === "birth_date") throw invalidRequest(f("id_number"), "the birth date in it is not a real date");
  if (id_problem === "check_char") throw invalidRequest(f("id_number"), "check character does not match (ISO 7064 MOD 11-2)");
  if (!/^\d{16,19}$/.test(input.card_number)) throw invalidRequest(f("card_number"), "must be 16 to 19 digits");
  const warnings: string[] = [];
  if (!luhnValid(input.card_number)) {
    if (!input.card_number.startsWith("62")) throw invalidRequest(f("card_number"), "fails the Luhn check");
    warnings.push("card_number fails the Luhn check (accepted for a UnionPay BIN)");
  }
  if (!isMobilePhone(input.phone)) throw invalidRequest(f("phone"), "must be an 11-digit mainland mobile number");
  const bin = lookupBin(input.card_number);
  if (!bin) throw invalidRequest(f("card_number"), "unknown issuing bank for this BIN");
  if (bin.length !== input.card_number.length) throw invalidRequest(f("card_number"), `this bank's cards have ${bin.length} digits`);
  if (bin.card_type === "credit" && (!input.cvn2 || !input.expiry)) {
    throw invalidRequest(input.cvn2 ? f("expiry") : f("cvn2"), "required for a credit card");
  }
  return {
    elements: { holder_name: input.holder_name, id_number: input.id_number, card_number: input.card_number, phone: input.phone },
    cvn2: bin.card_type === "credit" ? (input.cvn2 ?? null) : null,
    expiry: bin.card_type === "credit" ? (input.expiry ?? null) : null,
    bank: bin.bank,
    card_type: bin.card_type,
    bin: input.card_number.slice(0, 6),
    warnings,
  };
}
