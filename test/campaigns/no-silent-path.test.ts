import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allRoutes } from "../../src/api/index.ts";
import { hostedSigningRoutes } from "../../src/api/routes/hosted-signing.ts";
import { openAgreementRoutes } from "../../src/api/routes/open-agreements.ts";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { cardBody, catalogue, pickCard, signCard, smsFor, type SandboxCard } from "../payments/helpers.ts";
import { invitationLink, invitee } from "./helpers.ts";

/**
 * docs/domain.md point 5, "no silent migration": no API, CLI or admin path turns stored card data into
 * agreements without the cardholder's own code or own entry on the hosted page. Proved three ways:
 * (1) the source: one function writes agreements, and only the signing and confirming modules call
 * it; (2) the import graph: only the cardholder-facing routes can reach those modules — no CLI,
 * admin, operator, sandbox or demo code can; (3) live: every other route of the OpenAPI document,
 * called with a stored card's four elements, makes no agreement and sends no code, and a
 * campaign alone sends invitations only.
 */
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../../src");

function sourceFiles(dir = SRC, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (path.endsWith(".ts") && !path.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const rel = (path: string) => relative(SRC, path).split("\\").join("/");
const FILES = sourceFiles().map((path) => ({ path: rel(path), text: readFileSync(path, "utf8"), abs: path }));
const filesMatching = (re: RegExp) => FILES.filter((f) => re.test(f.text)).map((f) => f.path).sort();

/**
 * Files reaching `targets` through relative imports. Edges into the route list are cut: whatever
 * imports it serves HTTP, and every route is checked on its own below.
 */
function importersOf(targets: string[]): string[] {
  const edges = new Map(FILES.map((f) => [f.path, [...f.text.matchAll(/(?:from|import\()\s*"(\.[^"]+)"/g)].map((m) => rel(resolve(dirname(f.abs), m[1]!)))]));
  const boundary = "api/routes/index.ts";
  const reach = new Set(targets);
  for (let changed = true; changed; ) {
    changed = false;
    for (const [file, deps] of edges) {
      if (reach.has(file) || file === boundary) continue;
      if (deps.some((d) => reach.has(d))) {
        reach.add(file);
        changed = true;
      }
    }
  }
  return [...reach].sort();
}

/** The routes that can make an agreement, and what the cardholder gives for it. */
const AGREEMENT_MAKERS: Record<string, string> = {
  "POST /v1/agreements/confirm": "the bank's or paycore's code, which only the reserved phone receives",
  "POST /v1/sign-and-pay/confirm": "the bank's or paycore's code",
  "POST /sign/{token}": "the cardholder's own four elements on the hosted page, then their code (or a card they already signed on the platform)",
  // docs/domain.md point 3 (reuse across merchants): a card the cardholder already signed with their
  // bank's code, presented again with all four elements, at a merchant ID that does not require
  // its own confirmation. Merchants that do, get paycore's code sent to the cardholder instead.
  "POST /v1/agreements": "reuse of a card its holder signed on the platform (docs/domain.md point 3), else nothing before the code",
  "POST /v1/sign-and-pay": "as POST /v1/agreements",
};

describe("no silent path from stored card data to agreements", () => {
  it("one function writes agreements, called only by signing (reuse) and confirming (a code)", () => {
    expect(filesMatching(/insertInto\(\s*["']agreements["']\s*\)/)).toEqual(["agreements/store.ts"]);
    expect(filesMatching(/insert\s+into\s+"?agreements"?[\s(]/i)).toEqual([]);
    expect(filesMatching(/\bcreateMerchantAgreement\b/)).toEqual(["agreements/confirm.ts", "agreements/signing.ts", "agreements/store.ts"]);
    // Updates only ever end agreements (unbind); nothing turns an ended one active again.
    expect(filesMatching(/updateTable\(\s*["']agreements["']\s*\)/)).toEqual(["agreements/unbind.ts"]);
    const migrations = readdirSync(join(SRC, "db/migrations")).map((f) => readFileSync(join(SRC, "db/migrations", f), "utf8"));
    expect(migrations.filter((sql) => /insert\s+into\s+"?agreements"?[\s(]/i.test(sql))).toEqual([]);
  });

  it("only the cardholder-facing routes can reach signing: no CLI, admin, operator, sandbox or demo code", () => {
    const reach = importersOf(["agreements/signing.ts", "agreements/confirm.ts"]);
    expect(reach).toEqual([
      "agreements/confirm.ts",
      "agreements/signing.ts",
      "api/routes/hosted-signing.ts",
      "api/routes/open-agreements.ts",
      "campaigns/hosted.ts",
      "campaigns/page.ts",
      "payments/sign-and-pay.ts",
    ]);
    // The campaign API (create, progress, invitations) cannot sign: it never reaches those modules.
    expect(reach).not.toContain("api/routes/open-campaigns.ts");
    expect(reach).not.toContain("campaigns/index.ts");
  });

  describe("live, over HTTP with the sandbox", () => {
    const clock = new ManualClock("2026-05-05T02:00:00Z");
    let app: TestApp;
    let owner: PaycoreClient, taker: PaycoreClient;
    let taker_id = "", victim_merchant_id = "", owner_agreement = "";
    let card: SandboxCard;

    beforeAll(async () => {
      app = await startTestApp({ label: "silent", clock, sandbox: true });
      const o = await createTestMerchant(app, { name: "Card Owner Shop" });
      // The taker needs no confirmation of its own: the case where reuse would be possible.
      const t = await createTestMerchant(app, { name: "Taker Shop", require_own_confirmation: false }, o.entity_id);
      const v = await createTestMerchant(app, { name: "Victim Shop" }, o.entity_id);
      [owner, taker] = [app.merchantClient(o.creds), app.merchantClient(t.creds)];
      [taker_id, victim_merchant_id] = [t.creds.mch_id, v.creds.mch_id];
      card = pickCard(await catalogue(app), { unified: true });
      // The cardholder signed once at another merchant: paycore's vault now holds the four elements.
      owner_agreement = await signCard(app, owner, card, "owner-sign-1", "card-owner");
    });
    afterAll(async () => app.close());

    const agreementCount = async () => Number((await app.ctx.db.selectFrom("agreements").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow()).n);
    const codesSent = async () => (await smsFor(app, card.phone)).filter((m) => m.otp !== null).length;

    it("a campaign alone makes no agreement and sends only the invitation, with no code and no link in any answer", async () => {
      const [agreements, codes] = [await agreementCount(), await codesSent()];
      const inbox_before = (await smsFor(app, card.phone)).length;
      const created = await taker.post<{ campaign_id: string }>("/v1/agreement-campaigns", { out_campaign_no: "c-1", invitations: [invitee(card, "taken-user")] });
      expect(created.status).toBe(201);
      const inbox = await smsFor(app, card.phone);
      expect(inbox).toHaveLength(inbox_before + 1);
      expect(inbox.at(-1)!.otp).toBeNull();
      expect(inbox.at(-1)!.text).toContain("/sign/");
      // Opening the page signs nothing either: the cardholder has to enter the card.
      const link = await invitationLink(app, card.phone);
      expect((await fetch(link)).status).toBe(200);
      expect(await agreementCount()).toBe(agreements);
      expect(await codesSent()).toBe(codes);
      expect((await taker.get<{ data: unknown[] }>("/v1/agreements")).body.data).toHaveLength(0);
      // The merchant never sees the link: only the invitee's phone does.
      const token = link.split("/sign/")[1]!;
      const views = [created.text, (await taker.get(`/v1/agreement-campaigns/${created.body.campaign_id}`)).text, (await taker.get(`/v1/agreement-campaigns/${created.body.campaign_id}/invitations`)).text];
      for (const text of views) expect(text).not.toContain(token);
      expect(app.log_lines.join("")).not.toContain(token);
    });

    it("every route of the OpenAPI document besides the cardholder-facing ones, fed a stored card's data, makes no agreement and sends no code", async () => {
      const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { security: Record<string, unknown>[] }>> };
      const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), path, op })));
      // The document lists exactly the server's routes, and the makers are exactly the routes of
      // the two route modules that reach signing (the import graph above).
      const keyOf = (r: { method: string; url: string }) => `${r.method} ${r.url.replace(/:([a-z_]+)/g, "{$1}")}`;
      // GET /metrics is mounted by the server beside the API's routes (read-only Prometheus text).
      expect(operations.map((o) => o.key).filter((k) => k !== "GET /metrics").sort()).toEqual(allRoutes(app.deps).map(keyOf).sort());
      const reaching = [...openAgreementRoutes(app.deps), ...hostedSigningRoutes(app.deps)].map(keyOf);
      for (const maker of Object.keys(AGREEMENT_MAKERS)) expect(reaching).toContain(maker);

      const link = await invitationLink(app, card.phone);
      const ids: Record<string, string> = { agreement_id: owner_agreement, merchant_id: victim_merchant_id, channel_id: "netsunion", token: link.split("/sign/")[1]! };
      // The card's data in every shape a route might take it: as a sign request, flat, as a
      // sign-and-pay, as campaign invitations, next to an agreement or a merchant id.
      const bodies = (n: number) => [
        { out_request_no: `silent-${n}`, user_ref: "taken-user", card: cardBody(card) },
        cardBody(card),
        { out_request_no: `silent-sp-${n}`, out_trade_no: `silent-${n}`, user_ref: "taken-user", card: cardBody(card), amount: 100, currency: "CNY", description: "x" },
        { out_campaign_no: `silent-${n}`, invitations: [{ ...invitee(card, "taken-user"), ...cardBody(card) }] },
        { ...cardBody(card), user_ref: "taken-user", agreement_id: owner_agreement, merchant_id: taker_id },
      ].map((b) => JSON.stringify(b));
      const [agreements, codes] = [await agreementCount(), await codesSent()];
      let called = 0;
      for (const o of operations.filter((x) => !(x.key in AGREEMENT_MAKERS))) {
        const path = o.path.replace(/\{([a-z_]+)\}/g, (_m, name: string) => ids[name] ?? "x");
        const scheme = Object.keys(o.op.security[0] ?? {})[0];
        for (const body of o.method === "GET" || o.method === "DELETE" ? [undefined] : bodies(called)) {
          if (scheme === "merchantSignature") await taker.request(o.method, path, body);
          else if (scheme === "operatorToken") await app.admin(o.method, path, body);
          else await fetch(app.url + path, { method: o.method, ...(body ? { headers: { "content-type": "application/json" }, body } : {}), signal: AbortSignal.timeout(10_000) });
          called += 1;
        }
      }
      expect(called).toBeGreaterThan(50);
      expect(await agreementCount()).toBe(agreements);
      expect(await codesSent()).toBe(codes);
      expect((await taker.get<{ data: unknown[] }>("/v1/agreements")).body.data).toHaveLength(0);
      const counts = (await taker.get<{ counts: Record<string, number> }>(`/v1/agreement-campaigns/${(await app.ctx.db.selectFrom("agreement_campaigns").select("campaign_id").where("merchant_id", "=", taker_id).executeTakeFirstOrThrow()).campaign_id}`)).body.counts;
      expect(counts.signed).toBe(0);
    });
  });
});
