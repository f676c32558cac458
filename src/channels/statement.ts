/** Fixed-width statement lines: columns of known widths separated by one space. */
export function sliceColumns(line: string, widths: readonly number[]): string[] | null {
  const expected = widths.reduce((sum, w) => sum + w, 0) + widths.length - 1;
  if (line.length !== expected) return null;
  const out: string[] = [];
  let at = 0;
  for (const width of widths) {
    out.push(line.slice(at, at + width).trim());
    at += width + 1;
  }
  return out;
}

export function parseFen(text: string): bigint | null {
  return /^-?\d{1,18}$/.test(text) ? BigInt(text) : null;
}
