/**
 * SAMPLE DATA — NOT THE PBoC's PARTICIPANT DIRECTORY.
 *
 * A CNAPS bank directory (支付系统行名行号) as data: 12-digit participant codes (联行号: 3 digits
 * of bank, 4 of city, 4 of branch, 1 check digit) with the bank, the city and the branch's name,
 * and whether the branch can be reached over IBPS (超级网银). The rows are a realistic sample of a
 * few dozen branches of the major banks paycore's sandbox plays: the shape and the bank and city
 * digits follow the real directory, but the branch digits, check digits and names are made up (the
 * head-office rows resemble the published ones) and must not be used to send real money. IBPS
 * participation follows the sandbox's catalogue, which is configuration for tests (in real life
 * more banks take part). A deployment replaces this file with the directory its reserve bank
 * distributes (the PBoC updates it daily); `directory.ts` reads whatever rows are here.
 */
export interface CnapsDirectoryRow {
  /** The 12-digit participant code. */
  cnaps_code: string;
  /** paycore's bank code (`BANKS` in kernel/banks.ts); the code's first three digits are that bank's. */
  bank_code: string;
  city: string;
  branch_name: string;
  /** Reachable over IBPS (超级网银). */
  ibps: boolean;
}

const row = (cnaps_code: string, bank_code: string, city: string, branch_name: string, ibps: boolean): CnapsDirectoryRow => ({
  cnaps_code,
  bank_code,
  city,
  branch_name,
  ibps,
});

export const CNAPS_DIRECTORY_ROWS: readonly CnapsDirectoryRow[] = [
  // 中国工商银行 (102): also the sandbox's reserve bank (102100099996).
  row("102100099996", "ICBC", "北京", "中国工商银行清算中心", true),
  row("102100000015", "ICBC", "北京", "中国工商银行股份有限公司北京市分行营业部", true),
  row("102100000030", "ICBC", "北京", "中国工商银行股份有限公司北京西单支行", true),
  row("102290000012", "ICBC", "上海", "中国工商银行股份有限公司上海市分行营业部", true),
  row("102290000029", "ICBC", "上海", "中国工商银行股份有限公司上海市浦东开发区支行", true),
  row("102581000013", "ICBC", "广州", "中国工商银行股份有限公司广东省分行营业部", true),
  row("102584000002", "ICBC", "深圳", "中国工商银行股份有限公司深圳市分行营业部", true),
  row("102331000018", "ICBC", "杭州", "中国工商银行股份有限公司浙江省分行营业部", true),
  row("102651000011", "ICBC", "成都", "中国工商银行股份有限公司四川省分行营业部", true),
  // 中国农业银行 (103)
  row("103100000026", "ABC", "北京", "中国农业银行股份有限公司总行", true),
  row("103100000042", "ABC", "北京", "中国农业银行股份有限公司北京市分行营业部", true),
  row("103290000013", "ABC", "上海", "中国农业银行股份有限公司上海市分行营业部", true),
  row("103581000011", "ABC", "广州", "中国农业银行股份有限公司广东省分行营业部", true),
  row("103521000019", "ABC", "武汉", "中国农业银行股份有限公司湖北省分行营业部", true),
  // 中国银行 (104)
  row("104100000004", "BOC", "北京", "中国银行总行", true),
  row("104100000020", "BOC", "北京", "中国银行股份有限公司北京市分行营业部", true),
  row("104290000016", "BOC", "上海", "中国银行股份有限公司上海市分行营业部", true),
  row("104584000003", "BOC", "深圳", "中国银行股份有限公司深圳市分行营业部", true),
  row("104301000017", "BOC", "南京", "中国银行股份有限公司江苏省分行营业部", true),
  // 中国建设银行 (105)
  row("105100000017", "CCB", "北京", "中国建设银行股份有限公司总行", true),
  row("105100000025", "CCB", "北京", "中国建设银行股份有限公司北京市分行营业部", true),
  row("105290000014", "CCB", "上海", "中国建设银行股份有限公司上海市分行营业部", true),
  row("105584000005", "CCB", "深圳", "中国建设银行股份有限公司深圳市分行营业部", true),
  row("105331000014", "CCB", "杭州", "中国建设银行股份有限公司浙江省分行营业部", true),
  row("105653000017", "CCB", "重庆", "中国建设银行股份有限公司重庆市分行营业部", true),
  // 交通银行 (301)
  row("301290000007", "BOCOM", "上海", "交通银行股份有限公司总行", true),
  row("301100000017", "BOCOM", "北京", "交通银行股份有限公司北京市分行营业部", true),
  row("301581000019", "BOCOM", "广州", "交通银行股份有限公司广东省分行营业部", true),
  row("301791000012", "BOCOM", "西安", "交通银行股份有限公司陕西省分行营业部", true),
  // 招商银行 (308)
  row("308584000013", "CMB", "深圳", "招商银行股份有限公司总行", true),
  row("308100005019", "CMB", "北京", "招商银行股份有限公司北京分行营业部", true),
  row("308290003011", "CMB", "上海", "招商银行股份有限公司上海分行营业部", true),
  row("308581002012", "CMB", "广州", "招商银行股份有限公司广州分行营业部", true),
  // 兴业银行 (309): not in IBPS in the sandbox's catalogue.
  row("309391000011", "CIB", "福州", "兴业银行股份有限公司总行", false),
  row("309100000018", "CIB", "北京", "兴业银行股份有限公司北京分行营业部", false),
  row("309290000107", "CIB", "上海", "兴业银行股份有限公司上海分行营业部", false),
  row("309584000009", "CIB", "深圳", "兴业银行股份有限公司深圳分行营业部", false),
  // 上海浦东发展银行 (310)
  row("310290000013", "SPDB", "上海", "上海浦东发展银行股份有限公司总行", true),
  row("310100000016", "SPDB", "北京", "上海浦东发展银行股份有限公司北京分行营业部", true),
  row("310331000012", "SPDB", "杭州", "上海浦东发展银行股份有限公司杭州分行营业部", true),
  // 中国邮政储蓄银行 (403): not in IBPS in the sandbox's catalogue.
  row("403100000004", "PSBC", "北京", "中国邮政储蓄银行股份有限公司总行", false),
  row("403290000011", "PSBC", "上海", "中国邮政储蓄银行股份有限公司上海分行营业部", false),
  row("403581000016", "PSBC", "广州", "中国邮政储蓄银行股份有限公司广东省分行营业部", false),
  row("403110000010", "PSBC", "天津", "中国邮政储蓄银行股份有限公司天津分行营业部", false),
];
