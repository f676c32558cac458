import { describe, expect, it } from "vitest";
import { BANKS, bankByCnaps, cnapsDirectory, cnapsParticipant } from "./banks.ts";

describe("CNAPS bank directory", () => {
  it("knows a participant by its full 12-digit code, not by its bank prefix", () => {
    expect(cnapsParticipant("105290000014")).toMatchObject({ bank_code: "CCB", city: "上海", ibps: true, bank: { bank_name: "中国建设银行" } });
    expect(cnapsParticipant("309100000018")).toMatchObject({ bank_code: "CIB", ibps: false });
    expect(cnapsParticipant("105100000099")).toBeUndefined(); // CCB's prefix, no such branch
    expect(bankByCnaps("105100000099")).toBeUndefined();
    expect(cnapsParticipant("10529000001")).toBeUndefined();
  });

  it("holds a few dozen branches, several for every bank, each code under its bank's prefix", () => {
    const rows = cnapsDirectory();
    expect(rows.length).toBeGreaterThanOrEqual(36);
    for (const bank of BANKS) expect(rows.filter((r) => r.bank_code === bank.bank_code).length, bank.bank_code).toBeGreaterThanOrEqual(3);
    for (const r of rows) expect(r.cnaps_code.slice(0, 3)).toBe(r.bank.cnaps_prefix);
  });
});
