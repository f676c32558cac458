/**
 * Check characters and shapes of Chinese identifiers (docs/domain.md "Facts paycore builds on").
 * Pure functions; each returns whether the value is valid.
 */

// GB 32100-2015: 18 characters from this 31-character set (no I, O, Z, S, V).
const USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

export function usccCheckChar(first17: string): string | null {
  if (first17.length !== 17) return null;
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const value = USCC_CHARSET.indexOf(first17[i]!);
    if (value < 0) return null;
    sum += value * USCC_WEIGHTS[i]!;
  }
  const check = (31 - (sum % 31)) % 31;
  return USCC_CHARSET[check]!;
}

export function isValidUscc(uscc: string): boolean {
  if (!/^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/.test(uscc)) return false;
  return usccCheckChar(uscc.slice(0, 17)) === uscc[17];
}

// ISO 7064 MOD 11-2, as used by the 18-digit resident ID (GB 11643-1999).
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = "10X98765432";

export function residentIdCheckChar(first17: string): string | null {
  if (!/^\d{17}$/.test(first17)) return null;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11]!;
}

export type ResidentIdProblem = "format" | "birth_date" | "check_char";

export function residentIdProblem(id: string, today: Date = new Date()): ResidentIdProblem | null {
  if (!/^\d{17}[\dX]$/.test(id)) return "format";
  const year = Number(id.slice(6, 10));
  const month = Number(id.slice(10, 12));
  const day = Number(id.slice(12, 14));
  const birth = new Date(Date.UTC(year, month - 1, day));
  const real_date = birth.getUTCFullYear() === year && birth.getUTCMonth() === month - 1 && birth.getUTCDate() === day;
  if (!real_date || year < 1900 || birth.getTime() > today.getTime()) return "birth_date";
  if (residentIdCheckChar(id.slice(0, 17)) !== id[17]) return "check_char";
  return null;
}

export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export function luhnCheckDigit(partial: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(partial + d)) return String(d);
  throw new Error("unreachable: some Luhn digit always fits");
}

/** 12-digit CNAPS bank-branch code: 3 bank + 4 city + 4 branch + 1 check. */
export function isCnapsCode(code: string): boolean {
  return /^\d{12}$/.test(code) && code.slice(0, 3) !== "000";
}

/** A bank account number as banks print it: 8 to 32 digits. */
export function isBankAccountNumber(account: string): boolean {
  return /^\d{8,32}$/.test(account);
}

/** Mainland mobile number: 11 digits starting 13–19. */
export function isMobilePhone(phone: string): boolean {
  return /^1[3-9]\d{9}$/.test(phone);
}
