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
  /** Takes part in IBPS (超级网银), as the PBoC's participant list says; configuration, like the sandbox's. */
  ibps_participant: boolean;
  bins: readonly { prefix: string; card_type: "debit" | "credit"; length: number }[];
}

export const BANKS: readonly BankInfo[] = [
  { bank_code: "ICBC", bank_name: "中国工商银行", cnaps_prefix: "102", unified_registries: true, ibps_participant: true, bins: [{ prefix: "622202", card_type: "debit", length: 19 }, { prefix: "625330", card_type: "credit", length: 16 }] },
  { bank_code: "ABC", bank_name: "中国农业银行", cnaps_prefix: "103", unified_registries: true, ibps_participant: true, bins: [{ prefix: "622848", card_type: "debit", length: 19 }, { prefix: "625996", card_type: "credit", length: 16 }] },
  { bank_code: "BOC", bank_name: "中国银行", cnaps_prefix: "104", unified_registries: true, ibps_participant: true, bins: [{ prefix: "621661", card_type: "debit", length: 19 }, { prefix: "625907", card_type: "credit", length: 16 }] },
  { bank_code: "CCB", bank_name: "中国建设银行", cnaps_prefix: "105", unified_registries: true, ibps_participant: true, bins: [{ prefix: "621700", card_type: "debit", length: 19 }, { prefix: "625362", card_type: "credit", length: 16 }] },
  { bank_code: "BOCOM", bank_name: "交通银行", cnaps_prefix: "301", unified_registries: false, ibps_participant: true, bins: [{ prefix: "622262", card_type: "debit", length: 19 }, { prefix: "622252", card_type: "credit", length: 16 }] },
  { bank_code: "CMB", bank_name: "招商银行", cnaps_prefix: "308", unified_registries: true, ibps_participant: true, bins: [{ prefix: "621483", card_type: "debit", length: 16 }, { prefix: "622575", card_type: "credit", length: 16 }] },
  { bank_code: "CIB", bank_name: "兴业银行", cnaps_prefix: "309", unified_registries: false, ibps_participant: false, bins: [{ prefix: "622909", card_type: "debit", length: 18 }, { prefix: "622908", card_type: "credit", length: 16 }] },
  { bank_code: "SPDB", bank_name: "上海浦东发展银行", cnaps_prefix: "310", unified_registries: false, ibps_participant: true, bins: [{ prefix: "622521", card_type: "debit", length: 16 }, { prefix: "622276", card_type: "credit", length: 16 }] },
  { bank_code: "PSBC", bank_name: "中国邮政储蓄银行", cnaps_prefix: "403", unified_registries: false, ibps_participant: false, bins: [{ prefix: "621799", card_type: "debit", length: 19 }, { prefix: "628258", card_type: "credit", length: 16 }] },
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

/**
 * The bank of a CNAPS bank-branch code (联行号): 12 digits whose first three name a bank in the
 * directory. paycore's directory is at bank level (the branch digits are not checked).
 */
export function bankByCnaps(cnaps_code: string): BankInfo | undefined {
  if (!/^\d{12}$/.test(cnaps_code)) return undefined;
  return BANKS.find((b) => b.cnaps_prefix === cnaps_code.slice(0, 3));
}
