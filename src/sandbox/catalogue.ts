import { assert } from "../kernel/assert.ts";
import type { Bank, Card, CardStatus, CardType } from "./model.ts";
import { Rng } from "./rng.ts";
import { luhnCheckDigit, residentIdCheckChar as kernelResidentIdCheckChar } from "../kernel/checks.ts";

/**
 * Issuing banks with their CNAPS bank-code prefixes and UnionPay (62…) BINs. The BINs are
 * realistic prefixes of each bank's UnionPay cards, not an authoritative BIN table. The banks'
 * branches (CNAPS participant codes, IBPS participation) are paycore's bank directory
 * (kernel/cnaps/directory-data.ts): the sandbox's rails know the same participants paycore does.
 */
export const BANKS: readonly Bank[] = [
  { bank_code: "ICBC", bank_name: "中国工商银行", cnaps_prefix: "102", debit_bin: "622202", debit_length: 19, credit_bin: "625330", credit_length: 16, unified: true },
  { bank_code: "ABC", bank_name: "中国农业银行", cnaps_prefix: "103", debit_bin: "622848", debit_length: 19, credit_bin: "625996", credit_length: 16, unified: true },
  { bank_code: "BOC", bank_name: "中国银行", cnaps_prefix: "104", debit_bin: "621661", debit_length: 19, credit_bin: "625907", credit_length: 16, unified: true },
  { bank_code: "CCB", bank_name: "中国建设银行", cnaps_prefix: "105", debit_bin: "621700", debit_length: 19, credit_bin: "625362", credit_length: 16, unified: true },
  { bank_code: "BOCOM", bank_name: "交通银行", cnaps_prefix: "301", debit_bin: "622262", debit_length: 19, credit_bin: "622252", credit_length: 16, unified: false },
  { bank_code: "CMB", bank_name: "招商银行", cnaps_prefix: "308", debit_bin: "621483", debit_length: 16, credit_bin: "622575", credit_length: 16, unified: true },
  { bank_code: "CIB", bank_name: "兴业银行", cnaps_prefix: "309", debit_bin: "622909", debit_length: 18, credit_bin: "622908", credit_length: 16, unified: false },
  { bank_code: "SPDB", bank_name: "上海浦东发展银行", cnaps_prefix: "310", debit_bin: "622521", debit_length: 16, credit_bin: "622276", credit_length: 16, unified: false },
  { bank_code: "PSBC", bank_name: "中国邮政储蓄银行", cnaps_prefix: "403", debit_bin: "621799", debit_length: 19, credit_bin: "628258", credit_length: 16, unified: false },
];

export const CARDS_PER_BANK = 4;
const UNIQUE_ATTEMPTS_MAX = 100;
const SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗"];
const GIVEN_NAMES = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞"];
const REGIONS = ["110101", "310104", "440106", "330106", "510107", "420106", "320102", "440305"];
const PHONE_PREFIXES = ["138", "139", "135", "136", "137", "150", "151", "158", "159", "186", "187", "188", "177", "199"];
const YUAN = 100n;
export const DEFAULT_DEBIT_DAILY_LIMIT_FEN = 50_000n * YUAN;
export const DEFAULT_CREDIT_DAILY_LIMIT_FEN = 20_000n * YUAN;

export function bankByCode(code: string): Bank | undefined {
  return BANKS.find((bank) => bank.bank_code === code);
}

export { luhnCheckDigit } from "../kernel/checks.ts";

/** The check character of a resident ID body (ISO 7064 MOD 11-2); the body must be 17 digits. */
export function residentIdCheckChar(first17: string): string {
  const check = kernelResidentIdCheckChar(first17);
  assert(check !== null, "resident ID body must be 17 digits");
  return check;
}

export function makeCardNumber(rng: Rng, bin: string, length: number): string {
  const body = bin + rng.digits(length - bin.length - 1);
  return body + luhnCheckDigit(body);
}

function makeIdNumber(rng: Rng): string {
  const year = rng.between(1960, 2000);
  const month = String(rng.between(1, 12)).padStart(2, "0");
  const day = String(rng.between(1, 28)).padStart(2, "0");
  const body = `${rng.pick(REGIONS)}${year}${month}${day}${rng.digits(3)}`;
  return body + residentIdCheckChar(body);
}

function makeCreditElements(rng: Rng): { cvn2: string; expiry: string } {
  return { cvn2: rng.digits(3), expiry: `${String(rng.between(1, 12)).padStart(2, "0")}${rng.between(28, 33)}` };
}

/** Card `index` of a bank: two debit cards, one credit card, and one with a condition to test. */
function cardShape(bank_index: number, index: number): { type: CardType; status: CardStatus; low_balance: boolean } {
  if (index === 2) return { type: "credit", status: "normal", low_balance: false };
  if (index !== 3) return { type: "debit", status: "normal", low_balance: false };
  const variant = bank_index % 3;
  if (variant === 0) return { type: "debit", status: "frozen", low_balance: false };
  if (variant === 1) return { type: "debit", status: "lost", low_balance: false };
  return { type: "debit", status: "normal", low_balance: true };
}

/** The built-in catalogue: the same seed always gives the same cards. */
export function buildCatalogue(seed: number): Card[] {
  const rng = Rng.derive(seed, "catalogue");
  const cards: Card[] = [];
  const used = new Set<string>();
  const unique = (make: () => string): string => {
    for (let attempt = 0; attempt < UNIQUE_ATTEMPTS_MAX; attempt++) {
      const value = make();
      if (!used.has(value)) {
        used.add(value);
        return value;
      }
    }
    assert(false, "catalogue could not find a unique value");
  };
  BANKS.forEach((bank, bank_index) => {
    for (let index = 0; index < CARDS_PER_BANK; index++) {
      const shape = cardShape(bank_index, index);
      const credit = shape.type === "credit";
      const card_number = unique(() =>
        credit ? makeCardNumber(rng, bank.credit_bin, bank.credit_length) : makeCardNumber(rng, bank.debit_bin, bank.debit_length),
      );
      const balance_yuan = shape.low_balance ? 1n : BigInt(rng.between(credit ? 20 : 1, credit ? 100 : 200)) * 1_000n;
      const elements = credit ? makeCreditElements(rng) : { cvn2: null, expiry: null };
      cards.push({
        card_number,
        holder_name: rng.pick(SURNAMES) + rng.pick(GIVEN_NAMES),
        id_number: unique(() => makeIdNumber(rng)),
        phone: unique(() => rng.pick(PHONE_PREFIXES) + rng.digits(8)),
        bank_code: bank.bank_code,
        card_type: shape.type,
        status: shape.status,
        balance_fen: balance_yuan * YUAN,
        daily_limit_fen: credit ? DEFAULT_CREDIT_DAILY_LIMIT_FEN : DEFAULT_DEBIT_DAILY_LIMIT_FEN,
        ...elements,
      });
    }
  });
  return cards;
}

export function generateCreditElements(rng: Rng): { cvn2: string; expiry: string } {
  return makeCreditElements(rng);
}
