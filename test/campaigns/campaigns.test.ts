import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpSmsGateway } from "../../src/agreements/sms.ts";
import { campaignSettingsFromEnv, createCampaign, escapeHtml, retryDueInvitationSms, CAMPAIGN_LIMITS } from "../../src/campaigns/index.ts";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, lastOtp, pickCard, smsFor, type SandboxCard } from "../payments/helpers.ts";
import { cardFields, expectNoCardData, getPage, invitationLink, invitee, postForm } from "./helpers.ts";

type Json = Record<string, unknown> & { error?: { code: string; message: string; field?: string } };
type Campaign = Json & { campaign_id: string; counts: Record<string, number>; sms: Record<string, number> };

/**
 * Batch signing campaigns end to end over HTTP with the live sandbox: invitation SMS, the hosted
 * page without JavaScript, the bank's code, states and counts, expiry, SMS retries.
 */
describe("campaign pieces", () => {
  it("escapes HTML and reads its settings from the environment", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    expect(campaignSettingsFromEnv({})).toEqual({ link_ttl_hours_default: 168 });
    expect(campaignSettingsFromEnv({ PAYCORE_CAMPAIGN_LINK_TTL_HOURS: "48" })).toEqual({ link_ttl_hours_default: 48 });
    expect(() => campaignSettingsFromEnv({ PAYCORE_CAMPAIGN_LINK_TTL_HOURS: "0" })).toThrow(/PAYCORE_CAMPAIGN_LINK_TTL_HOURS/);
  });
});

describe("batch signing campaigns", () => {
  const clock = new ManualClock("2026-05-04T02:00:00Z");
  let app: TestApp;
  let shop: PaycoreClient, other: PaycoreClient, strict: PaycoreClient;
  let shop_id = "";
  let cards: SandboxCard[];
  let campaign_id = "";
  const SHOP_NAME = `Tea & "Cakes" <b>Shop</b>`;

  beforeAll(async () => {
    app = await startTestApp({ label: "campaigns", clock, sandbox: true });
    const s = await createTestMerchant(app, { name: SHOP_NAME });
    const o = await createTestMerchant(app, { name: "Other Shop" }, s.entity_id);
    const h = await createTestMerchant(app, { name: "Strict Shop", risk_level: "high" }, s.entity_id);
    [shop, other, strict] = [app.merchantClient(s.creds), app.merchantClient(o.creds), app.merchantClient(h.creds)];
    shop_id = s.creds.mch_id;
    const all = await catalogue(app);
    const first = pickCard(all, { unified: true });
    const second = pickCard(all, { unified: false });
    const third = pickCard(all, { unified: true, skip: [first.card_number] });
    const fourth = pickCard(all, { unified: false, skip: [second.card_number] });
    cards = [first, second, third, fourth];
    expect(new Set(cards.map((c) => c.phone)).size).toBe(4);
  });
  afterAll(async () => app.close());

  it("refuses a bad campaign: duplicates, a bad phone, too many invitations, unknown fields", async () => {
    const dup = await shop.post<Json>("/v1/agreement-campaigns", { out_campaign_no: "bad-1", invitations: [invitee(cards[0]!, "u1"), invitee(cards[1]!, "u1")] });
    expect(dup.status).toBe(400);
    expect(dup.body.error).toMatchObject({ code: "invalid_request", field: "invitations.1.user_ref" });
    const dup_phone = await shop.post<Json>("/v1/agreement-campaigns", { out_campaign_no: "bad-1", invitations: [invitee(cards[0]!, "u1"), invitee(cards[0]!, "u2")] });
    expect(dup_phone.body.error?.field).toBe("invitations.1.phone");
    const phone = await shop.post<Json>("/v1/agreement-campaigns", { out_campaign_no: "bad-1", invitations: [{ user_ref: "u1", holder_name: "张三", phone: "12345" }] });
    expect(phone.body.error?.field).toBe("invitations.0.phone");
    const many = Array.from({ length: CAMPAIGN_LIMITS.invitations_per_campaign_max + 1 }, (_, i) => ({ user_ref: `u${i}`, holder_name: "张三", phone: `139${String(i).padStart(8, "0")}` }));
    const big = await shop.post<Json>("/v1/agreement-campaigns", { out_campaign_no: "bad-1", invitations: many });
    expect(big.status).toBe(400);
    const extra = await shop.post<Json>("/v1/agreement-campaigns", { out_campaign_no: "bad-1", invitations: [{ ...invitee(cards[0]!, "u1"), card_number: cards[0]!.card_number }] });
    expect(extra.body.error?.field).toBe("invitations.0.card_number");
    expect(await smsFor(app, cards[0]!.phone)).toHaveLength(0);
  });

  it("creates a campaign: each invitee gets an SMS with a link to the page; a repeat answers the campaign", async () => {
    const body = { out_campaign_no: "spring-1", invitations: cards.slice(0, 3).map((c, i) => invitee(c, `user-${i}`)) };
    const created = await shop.post<Campaign>("/v1/agreement-campaigns", body);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ out_campaign_no: "spring-1", invitation_count: 3, link_ttl_hours: 168, counts: { invited: 3, opened: 0, signed: 0, expired: 0, failed: 0 }, sms: { sent: 3, pending: 0, failed: 0 } });
    expect(created.body.campaign_id).toMatch(/^cmp_/);
    campaign_id = created.body.campaign_id;
    for (const card of cards.slice(0, 3)) {
      const inbox = await smsFor(app, card.phone);
      expect(inbox).toHaveLength(1);
      expect(inbox[0]!.otp).toBeNull();
      expect(inbox[0]!.text).toContain(`${app.url}/sign/`);
    }
    const repeat = await shop.post<Campaign>("/v1/agreement-campaigns", body);
    expect(repeat.status).toBe(200);
    expect(repeat.body.campaign_id).toBe(campaign_id);
    expect(await smsFor(app, cards[0]!.phone)).toHaveLength(1);
    const changed = await shop.post<Json>("/v1/agreement-campaigns", { ...body, invitations: body.invitations.slice(0, 2) });
    expect(changed.status).toBe(409);
    expect(changed.body.error?.code).toBe("duplicate_out_trade_no");
  });

  it("the cardholder signs on the page: four elements, the bank's code, and the merchant holds the agreement", async () => {
    const card = cards[0]!;
    const link = await invitationLink(app, card.phone);
    const opened = await getPage(link);
    expect(opened.status).toBe(200);
    expect(opened.html).toContain("<form");
    expect(opened.html).toContain("Tea &amp; &quot;Cakes&quot; &lt;b&gt;Shop&lt;/b&gt;");
    expect(opened.html).not.toContain("<b>Shop</b>");
    expect(opened.html).not.toContain("<script");
    expect(opened.form_token).toBeTruthy();

    // A typo in the ID number: a clear message, nothing sent to the bank, the form empty again.
    const bad_id = card.id_number.slice(0, 17) + (card.id_number.endsWith("0") ? "1" : "0");
    const typo = await postForm(link, { ...cardFields(card, opened.form_token!), id_number: bad_id });
    expect(typo.status).toBe(400);
    expect(typo.html).toContain("身份证号码有误");
    expectNoCardData(typo.html, card);
    expect(typo.html).not.toContain(bad_id);
    expect(await smsFor(app, card.phone)).toHaveLength(1);

    const sent = await postForm(link, cardFields(card, typo.form_token!));
    expect(sent.status).toBe(200);
    expect(sent.html).toContain('name="otp"');
    expectNoCardData(sent.html, card);
    const inbox = await smsFor(app, card.phone);
    expect(inbox).toHaveLength(2);
    const code = inbox[1]!.otp!;
    expect(code).toMatch(/^\d{6}$/);

    const wrong = await postForm(link, { action: "code", form_token: sent.form_token!, otp: code === "000000" ? "111111" : "000000" });
    expect(wrong.status).toBe(422);
    expect(wrong.html).toContain("验证码错误");
    expect(wrong.html).toContain('name="otp"');
    expectNoCardData(wrong.html, card);

    const done = await postForm(link, { action: "code", form_token: wrong.form_token!, otp: await lastOtp(app, card.phone) });
    expect(done.status).toBe(200);
    expect(done.html).toContain(card.card_number.slice(-4));
    expectNoCardData(done.html, card);

    const agreements = await shop.get<{ data: Json[] }>("/v1/agreements?user_ref=user-0");
    expect(agreements.body.data).toHaveLength(1);
    expect(agreements.body.data[0]).toMatchObject({ status: "active", user_ref: "user-0", card: { last4: card.card_number.slice(-4) } });
    const events = await app.ctx.db.selectFrom("notify_events").select(["type", "data"]).where("merchant_id", "=", shop_id).where("type", "=", "agreement.signed").execute();
    expect(events.map((e) => (e.data as { agreement_id: string }).agreement_id)).toEqual([agreements.body.data[0]!.agreement_id]);

    // The link afterwards shows the result; an old form changes nothing.
    expect((await getPage(link)).html).toContain("签约成功");
    expect((await postForm(link, cardFields(card, opened.form_token!))).status).toBe(200);
    expect(await smsFor(app, card.phone)).toHaveLength(2);
  });

  it("counts invitations per state; the invitation list names the agreement", async () => {
    await getPage(await invitationLink(app, cards[1]!.phone));
    const progress = await shop.get<Campaign>(`/v1/agreement-campaigns/${campaign_id}`);
    expect(progress.status).toBe(200);
    expect(progress.body.counts).toEqual({ invited: 1, opened: 1, signed: 1, expired: 0, failed: 0 });
    const list = await shop.get<{ data: Json[] }>(`/v1/agreement-campaigns/${campaign_id}/invitations?status=signed`);
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).toMatchObject({ user_ref: "user-0", status: "signed", phone_last4: cards[0]!.phone.slice(-4) });
    expect(list.body.data[0]!.agreement_id).toMatch(/^agr_/);
    expect(JSON.stringify(list.body)).not.toContain(cards[0]!.phone);
  });

  it("a merchant sees only its own campaigns; a link or a form works only for its own invitation", async () => {
    expect((await other.get<Json>(`/v1/agreement-campaigns/${campaign_id}`)).status).toBe(404);
    expect((await other.get<Json>(`/v1/agreement-campaigns/${campaign_id}/invitations`)).status).toBe(404);
    const theirs = await other.post<Campaign>("/v1/agreement-campaigns", { out_campaign_no: "spring-1", invitations: [invitee(cards[3]!, "their-user")] });
    expect(theirs.status).toBe(201);
    expect(theirs.body.campaign_id).not.toBe(campaign_id);
    const their_link = await invitationLink(app, cards[3]!.phone);
    const their_page = await getPage(their_link);
    expect(their_page.html).toContain("Other Shop");
    expect(their_page.html).not.toContain("Tea &amp;");

    // The form token of one invitation does not work on another's link.
    const mine = await getPage(await invitationLink(app, cards[1]!.phone));
    const crossed = await postForm(their_link, cardFields(cards[3]!, mine.form_token!));
    expect(crossed.status).toBe(409);
    expect(crossed.html).toContain("out of date");
    const made_up = await getPage(their_link.replace(/\/sign\/.+$/, `/sign/${"A".repeat(43)}`));
    expect(made_up.status).toBe(404);
    expect((await getPage(their_link.replace(/\/sign\/.+$/, "/sign/short"))).status).toBe(404);
    const counts = (await shop.get<Campaign>(`/v1/agreement-campaigns/${campaign_id}`)).body.counts;
    expect(counts).toEqual({ invited: 1, opened: 1, signed: 1, expired: 0, failed: 0 });
    const theirs_now = (await other.get<Campaign>(`/v1/agreement-campaigns/${theirs.body.campaign_id}`)).body.counts;
    expect(theirs_now).toEqual({ invited: 0, opened: 1, signed: 0, expired: 0, failed: 0 });
  });

  it("an expired code says so; a new code can be sent once a minute and signs", async () => {
    const card = cards[1]!;
    const link = await invitationLink(app, card.phone);
    const form = await getPage(link);
    const sent = await postForm(link, cardFields(card, form.form_token!));
    expect(sent.html).toContain('name="otp"');
    const too_soon = await postForm(link, { action: "resend", form_token: sent.form_token! });
    expect(too_soon.status).toBe(429);
    expect(too_soon.html).toContain("once a minute");
    const first_code = await lastOtp(app, card.phone);
    clock.advance(6 * 60_000); // the bank's code lives 5 minutes
    const late = await postForm(link, { action: "code", form_token: sent.form_token!, otp: first_code });
    expect(late.status).toBe(422);
    expect(late.html).toContain("验证码已过期");
    expect(late.html).toContain('name="otp"');
    expectNoCardData(late.html, card);
    const resent = await postForm(link, { action: "resend", form_token: late.form_token! });
    expect(resent.status).toBe(200);
    expect(resent.html).toContain("A new code was sent");
    const new_code = await lastOtp(app, card.phone);
    const done = await postForm(link, { action: "code", form_token: resent.form_token!, otp: new_code });
    expect(done.html).toContain("签约成功");
    expect((await shop.get<{ data: Json[] }>("/v1/agreements?user_ref=user-1")).body.data).toHaveLength(1);
  });

  it("a form posted some other way gets a page, not JSON; card submissions the bank refuses are bounded, then the invitation fails", async () => {
    const card = cards[3]!;
    const link = await invitationLink(app, card.phone);
    const json = await fetch(link, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(cardFields(card, "x")) });
    expect(json.status).toBe(400);
    expect(json.headers.get("content-type")).toContain("text/html");
    let page = await getPage(link);
    for (let i = 1; i <= CAMPAIGN_LIMITS.sign_attempts_max; i++) {
      page = await postForm(link, { ...cardFields(card, page.form_token!), holder_name: "王小二" });
      expect(page.html).toContain("姓名");
      expectNoCardData(page.html, card);
      if (i < CAMPAIGN_LIMITS.sign_attempts_max) expect(page.status).toBe(400);
    }
    expect(page.status).toBe(422);
    expect(page.html).not.toContain("<form");
    expect((await getPage(link)).status).toBe(410);
    const row = await app.ctx.db.selectFrom("campaign_invitations").select(["campaign_id", "status", "failure_code"]).where("user_ref", "=", "their-user").executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: "failed", failure_code: "sign_attempts_exceeded" });
    expect((await other.get<Campaign>(`/v1/agreement-campaigns/${row.campaign_id}`)).body.counts).toEqual({ invited: 0, opened: 0, signed: 0, expired: 0, failed: 1 });
  });

  it("a card already signed on the platform: signed from the page with no SMS; a high-risk merchant sends its own code", async () => {
    const card = cards[0]!;
    await other.post<Campaign>("/v1/agreement-campaigns", { out_campaign_no: "reuse-1", invitations: [invitee(card, "reuse-user")] });
    const before = (await smsFor(app, card.phone)).length;
    const link = await invitationLink(app, card.phone);
    const page = await getPage(link);
    const done = await postForm(link, cardFields(card, page.form_token!));
    expect(done.status).toBe(200);
    expect(done.html).toContain("签约成功");
    expect(await smsFor(app, card.phone)).toHaveLength(before);
    const agreements = await other.get<{ data: Json[] }>("/v1/agreements?user_ref=reuse-user");
    expect(agreements.body.data).toHaveLength(1);

    await strict.post<Campaign>("/v1/agreement-campaigns", { out_campaign_no: "strict-1", invitations: [invitee(card, "strict-user")] });
    const strict_link = await invitationLink(app, card.phone);
    const form = await getPage(strict_link);
    const code_page = await postForm(strict_link, cardFields(card, form.form_token!));
    expect(code_page.html).toContain('name="otp"');
    const own_code = (await smsFor(app, card.phone)).at(-1)!;
    expect(own_code.text).toContain("paycore");
    const signed = await postForm(strict_link, { action: "code", form_token: code_page.form_token!, otp: own_code.otp! });
    expect(signed.html).toContain("签约成功");
    expect((await strict.get<{ data: Json[] }>("/v1/agreements?user_ref=strict-user")).body.data).toHaveLength(1);
  });

  it("a failed invitation SMS is recorded and retried with a new link; after the last try the invitation fails", async () => {
    const shop_row = await app.ctx.db.selectFrom("merchants").selectAll().where("merchant_id", "=", shop_id).executeTakeFirstOrThrow();
    const down = { ...app.deps, sms: new HttpSmsGateway("http://127.0.0.1:9") };
    const options = { public_base_url: app.url, link_ttl_hours_default: 168 };
    const a = { user_ref: "retry-a", holder_name: "李四", phone: "13900000001" };
    const b = { user_ref: "retry-b", holder_name: "王五", phone: "13900000002" };
    const created = await createCampaign(down, shop_row, { out_campaign_no: "retry-1", invitations: [a, b] }, options);
    const id = created.campaign.campaign_id;
    let p = await shop.get<Campaign>(`/v1/agreement-campaigns/${id}`);
    expect(p.body.sms).toEqual({ sent: 0, pending: 2, failed: 0 });
    expect(p.body.counts.invited).toBe(2);

    // Not due yet: nothing is sent again before the back-off.
    expect(await retryDueInvitationSms(app.deps, { campaign_id: id })).toBe(0);
    // The gateway is back a minute later: a retry pass (bounded batch) and the next look at the
    // campaign send them, each with a new link.
    clock.advance(CAMPAIGN_LIMITS.sms_retry_backoff_ms[0]);
    expect(await retryDueInvitationSms(app.deps, { campaign_id: id, limit: 1 })).toBe(1);
    p = await shop.get<Campaign>(`/v1/agreement-campaigns/${id}`);
    expect(p.body.sms).toEqual({ sent: 2, pending: 0, failed: 0 });
    expect(await smsFor(app, a.phone)).toHaveLength(1);
    expect(await smsFor(app, b.phone)).toHaveLength(1);
    expect((await getPage(await invitationLink(app, a.phone))).status).toBe(200);

    // Another campaign whose gateway never comes back: bounded retries, then failed.
    const c = { user_ref: "retry-c", holder_name: "赵六", phone: "13900000003" };
    const lost = await createCampaign(down, shop_row, { out_campaign_no: "retry-2", invitations: [c] }, options);
    for (const wait_ms of CAMPAIGN_LIMITS.sms_retry_backoff_ms) {
      clock.advance(wait_ms);
      expect(await retryDueInvitationSms(down, { campaign_id: lost.campaign.campaign_id })).toBe(1);
    }
    clock.advance(24 * 3_600_000);
    expect(await retryDueInvitationSms(down, { campaign_id: lost.campaign.campaign_id })).toBe(0);
    const gone = await shop.get<Campaign>(`/v1/agreement-campaigns/${lost.campaign.campaign_id}`);
    expect(gone.body.sms).toEqual({ sent: 0, pending: 0, failed: 1 });
    expect(gone.body.counts).toMatchObject({ invited: 0, failed: 1 });
    expect(await smsFor(app, c.phone)).toHaveLength(0);
  });

  it("links expire: the page says so, nothing can be signed, and the counts move to expired", async () => {
    const link = await invitationLink(app, cards[2]!.phone);
    clock.advance(7 * 24 * 3_600_000);
    const page = await getPage(link);
    expect(page.status).toBe(410);
    expect(page.html).toContain("expired");
    expect(page.html).not.toContain("<form");
    const progress = await shop.get<Campaign>(`/v1/agreement-campaigns/${campaign_id}`);
    expect(progress.body.counts).toEqual({ invited: 0, opened: 0, signed: 2, expired: 1, failed: 0 });
    const post = await postForm(link, cardFields(cards[2]!, "x"));
    expect(post.status).toBe(410);
    expect((await shop.get<{ data: Json[] }>("/v1/agreements?user_ref=user-2")).body.data).toHaveLength(0);
  });
});
