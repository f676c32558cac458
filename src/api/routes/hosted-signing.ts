import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { CAMPAIGN_LIMITS, openHostedPage, renderHostedPage, submitHostedPage, type HostedForm, type HostedPage } from "../../campaigns/page.ts";
import type { PaymentDeps } from "../../payments/deps.ts";
import { publicRoute, type Reply, type RouteDef } from "../route.ts";

/**
 * The hosted signing page of a campaign invitation: HTML forms that work without JavaScript.
 * The cardholder-facing way to make an agreement from a campaign; the link's token is the only
 * credential, so the request path is not logged with it.
 */
const TokenParam = z.strictObject({ token: z.string().min(1).max(128) });
const HTML = "text/html; charset=utf-8";
const FORM_FIELDS = new Set(["action", "form_token", "holder_name", "id_number", "card_number", "cvn2", "expiry", "otp"]);
const FIELD_CHARS_MAX = 64;
/** A page with card data on it: never cached, never framed, no scripts, forms post only here. */
const PAGE_HEADERS = {
  "Cache-Control": "no-store",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

export function hostedSigningRoutes(deps: PaymentDeps): RouteDef[] {
  return [
    publicRoute({
      method: "GET",
      url: "/sign/:token",
      summary: "Hosted signing page (HTML) for a campaign invitation: the cardholder's four elements, then the SMS code",
      tags: ["Hosted signing"],
      params: TokenParam,
      produces: HTML,
      handler: async (i) => page(deps, i.request, i.request_id, () => openHostedPage(deps, i.params.token)),
    }),
    publicRoute({
      method: "POST",
      url: "/sign/:token",
      summary: "Hosted signing page form posts (application/x-www-form-urlencoded): action=card|code|resend with form_token",
      tags: ["Hosted signing"],
      params: TokenParam,
      produces: HTML,
      handler: async (i) =>
        page(deps, i.request, i.request_id, async () => {
          const form = parseForm(i.request);
          return form ? submitHostedPage(deps, i.params.token, form) : BAD_FORM;
        }),
    }),
  ];
}

const BAD_FORM: HostedPage = { kind: "closed", status: 400, merchant_name: null, title: "无法处理 · Cannot process", message: "请返回并使用页面上的表单提交。Go back and submit the form on the page." };

/** Every answer is a page: errors included, never a stack trace or a JSON error body. */
async function page(deps: PaymentDeps, request: FastifyRequest, request_id: string, run: () => Promise<HostedPage>): Promise<Reply> {
  let result: HostedPage;
  try {
    result = await run();
  } catch (err) {
    deps.ctx.log.error({ request_id, err: { message: err instanceof Error ? err.message : String(err) } }, "hosted signing page failed");
    result = { kind: "closed", status: 500, merchant_name: null, title: "出错了 · Something went wrong", message: `请稍后重试。Please try again later. (${request_id})` };
  }
  return { status: result.status, body: renderHostedPage(result), content_type: HTML, headers: PAGE_HEADERS };
}

/** A urlencoded body of known fields, each bounded; anything else is refused. */
function parseForm(request: FastifyRequest): HostedForm | null {
  const type = String(request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  const raw = request.raw_body ?? "";
  if (type !== "application/x-www-form-urlencoded" || raw.length > CAMPAIGN_LIMITS.form_body_bytes_max) return null;
  const form: HostedForm = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    if (!FORM_FIELDS.has(key) || value.length > FIELD_CHARS_MAX || key in form) return null;
    form[key] = value;
  }
  return form;
}
