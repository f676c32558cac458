import { assert } from "./assert.ts";
import { CNAPS_DIRECTORY_ROWS, type CnapsDirectoryRow } from "./cnaps/directory-data.ts";

/**
 * Bank reference data paycore keeps, as a payment institution would from the networks'
 * announcements: issuing banks, the BIN prefixes of their UnionPay cards (62…, 60…) with card
 * type and length, their CNAPS bank prefix, and whether the bank takes part in the unified
 * signing registries (三库统一, unverified in public sources: this is configuration, not law).
 */
export interface BankInfo {
  bank_code: string;
  bank_name: string;
  cnaps_prefix: string;
  unified_registries: boolean;
  bins: readonly { prefix: string; card_type: "debit" | "credit"; length: number }[];
}

export const BANKS: readonly BankInfo[] = [
  { bank_code: "ICBC", bank_name: "中国工商银行", cnaps_prefix: "102", unified_registries: true, bins: [{ prefix: "622202", card_type: "debit", length: 19 }, { prefix: "625330", card_type: "credit", length: 16 }] },
  { bank_code: "ABC", bank_name: "中国农业银行", cnaps_prefix: "103", unified_registries: true, bins: [{ prefix: "622848", card_type: "debit", length: 19 }, { prefix: "625996", card_type: "credit", length: 16 }] },
  { bank_code: "BOC", bank_name: "中国银行", cnaps_prefix: "104", unified_registries: true, bins: [{ prefix: "621661", card_type: "debit", length: 19 }, { prefix: "625907", card_type: "credit", length: 16 }] },
  { bank_code: "CCB", bank_name: "中国建设银行", cnaps_prefix: "105", unified_registries: true, bins: [{ prefix: "621700", card_type: "debit", length: 19 }, { prefix: "625362", card_type: "credit", length: 16 }] },
  { bank_code: "BOCOM", bank_name: "交通银行", cnaps_prefix: "301", unified_registries: false, bins: [{ prefix: "622262", card_type: "debit", length: 19 }, { prefix: "622252", card_type: "credit", length: 16 }] },
  { bank_code: "CMB", bank_name: "招商银行", cnaps_prefix: "308", unified_registries: true, bins: [{ prefix: "621483", card_type: "debit", length: 16 }, { prefix: "622575", card_type: "credit", length: 16 }] },
  { bank_code: "CIB", bank_name: "兴业银行", cnaps_prefix: "309", unified_registries: false, bins: [{ prefix: "622909", card_type: "debit", length: 18 }, { prefix: "622908", card_type: "credit", length: 16 }] },
  { bank_code: "SPDB", bank_name: "上海浦东发展银行", cnaps_prefix: "310", unified_registries: false, bins: [{ prefix: "622521", card_type: "debit", length: 16 }, { prefix: "622276", card_type: "credit", length: 16 }] },
  { bank_code: "PSBC", bank_name: "中国邮政储蓄银行", cnaps_prefix: "403", unified_registries: false, bins: [{ prefix: "621799", card_type: "debit", length: 19 }, { prefix: "628258", card_type: "credit", length: 16 }] },
];

export interface BinMatch {
  bank: BankInfo;
  card_type: "debit" | "credit";
  length: number;
}

/** The bank and card type of a card number by its longest matching BIN prefix. */
export function lookupBin(card_number: string): BinMatch | null {
  let best: BinMatch | null = null;
  let best_len = 0;
  for (const bank of BANKS) {
    for (const bin of bank.bins) {
      if (card_number.startsWith(bin.prefix) && bin.prefix.length > best_len) {
        best = { bank, card_type: bin.card_type, length: bin.length };
        best_len = bin.prefix.length;
      }
    }
  }
  return best;
}

export function bankByCode(bank_code: string): BankInfo | undefined {
  return BANKS.find((b) => b.bank_code === bank_code);
}

export interface CnapsParticipant extends CnapsDirectoryRow {
  bank: BankInfo;
}

/** The directory by code, checked once at load: a broken data file stops the process, not a payout. */
const DIRECTORY: ReadonlyMap<string, CnapsParticipant> = (() => {
  const byCode = new Map<string, CnapsParticipant>();
  for (const row of CNAPS_DIRECTORY_ROWS) {
    const bank = bankByCode(row.bank_code);
    assert(/^\d{12}$/.test(row.cnaps_code), `CNAPS directory: ${row.cnaps_code} is not 12 digits`);
    assert(bank !== undefined && bank.cnaps_prefix === row.cnaps_code.slice(0, 3), `CNAPS directory: ${row.cnaps_code} is not a code of ${row.bank_code}`);
    assert(!byCode.has(row.cnaps_code), `CNAPS directory: ${row.cnaps_code} twice`);
    byCode.set(row.cnaps_code, { ...row, bank });
  }
  return byCode;
})();

/**
 * A CNAPS participant (联行号) in the bank directory (kernel/cnaps/directory-data.ts): the branch,
 * its bank and whether it takes IBPS. A 12-digit code that is not in the directory is unknown, even
 * when its first three digits name a bank.
 */
export function cnapsParticipant(cnaps_code: string): CnapsParticipant | undefined {
  return DIRECTORY.get(cnaps_code);
}

export function cnapsDirectory(): readonly CnapsParticipant[] {
  return [...DIRECTORY.values()];
}

/** The bank of a CNAPS participant code in the directory. */
export function bankByCnaps(cnaps_code: string): BankInfo | undefined {
  return cnapsParticipant(cnaps_code)?.bank;
}
