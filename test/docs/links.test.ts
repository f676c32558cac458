import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const tracked = () =>
  execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" })
    .split("\n")
    .filter((f) => f !== "" && existsSync(join(ROOT, f)) && !/\.(png|jpg|ico|woff2?)$/.test(f));

/** A user gets only this repository: no page or comment may send them outside it. */
describe("documentation stays inside the repository", () => {
  it("no file points at ../shared or at API.md, DOMAIN.md, STYLE.md", () => {
    const outside = /\.\.\/shared|\b(API|DOMAIN|STYLE)\.md\b/;
    const offenders = tracked()
      .filter((f) => f !== "test/docs/links.test.ts" && f !== "package-lock.json")
      .flatMap((f) => readFileSync(join(ROOT, f), "utf8").split("\n").map((line, i) => ({ f, line, i })))
      .filter(({ line }) => outside.test(line))
      .map(({ f, i, line }) => `${f}:${i + 1}: ${line.trim()}`);
    expect(offenders).toEqual([]);
  });

  it("every relative link in README.md and docs/ leads to a file of the repository", () => {
    const pages = tracked().filter((f) => f === "README.md" || (f.startsWith("docs/") && f.endsWith(".md")));
    const broken: string[] = [];
    for (const page of pages) {
      for (const m of readFileSync(join(ROOT, page), "utf8").matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        const path = resolve(ROOT, dirname(page), target);
        if (!path.startsWith(ROOT) || !existsSync(path)) broken.push(`${page} → ${target}`);
      }
    }
    expect(pages).toContain("docs/api-conventions.md");
    expect(broken).toEqual([]);
  });

  it("the error code table documents every code paycore can answer", async () => {
    const { ERROR_STATUS } = await import("../../src/kernel/errors.ts");
    const page = readFileSync(join(ROOT, "docs", "api-conventions.md"), "utf8");
    for (const [code, status] of Object.entries(ERROR_STATUS)) expect(page, code).toContain(`| \`${code}\` | ${status} |`);
  });
});
