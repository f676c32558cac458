/**
 * The hosted signing page as server-rendered HTML: plain forms, no JavaScript, no external
 * resources. Every value that reaches the page goes through `escapeHtml`; card number, ID number,
 * CVN2 and expiry are never written into a page (a form shown again starts empty).
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

export type HostedPage =
  | { kind: "card"; status: number; merchant_name: string; holder_name: string; phone_masked: string; form_token: string; message: string | null; attempts_left: number }
  | { kind: "code"; status: number; merchant_name: string; phone_masked: string; form_token: string; message: string | null }
  | { kind: "signed"; status: number; merchant_name: string; bank_name: string; last4: string }
  | { kind: "closed"; status: number; merchant_name: string | null; title: string; message: string };

const STYLE = [
  "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#222}",
  "label{display:block;margin:.8rem 0 .2rem}input{font-size:1.1rem;padding:.4rem;width:100%;box-sizing:border-box}",
  "button{font-size:1.1rem;padding:.5rem 1.2rem;margin-top:1rem}.msg{background:#fff3cd;padding:.6rem;border-radius:4px}",
  ".note{color:#555;font-size:.9rem}",
].join("");

function layout(title: string, merchant_name: string | null, body: string): string {
  const heading = merchant_name ? `<p class="note">${escapeHtml(merchant_name)} 邀请您开通快捷支付 · invites you to link your bank card</p>` : "";
  return [
    "<!doctype html>",
    '<html lang="zh-CN"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    // The link's token is in the URL: never send it on as a Referer; load nothing from elsewhere.
    '<meta name="referrer" content="no-referrer">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; form-action 'self'">`,
    '<meta name="robots" content="noindex">',
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>`,
    heading,
    `<h1>${escapeHtml(title)}</h1>`,
    body,
    "</body></html>",
  ].join("\n");
}

function message(text: string | null): string {
  return text ? `<p class="msg" role="alert">${escapeHtml(text)}</p>` : "";
}

function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;
}

function cardPage(p: Extract<HostedPage, { kind: "card" }>): string {
  const field = (name: string, label: string, extra: string) => `<label for="${name}">${escapeHtml(label)}</label><input id="${name}" name="${name}" ${extra}>`;
  return layout("绑定银行卡 · Link your card", p.merchant_name, [
    message(p.message),
    `<p>请由持卡人本人填写。验证码将以短信发送至 ${escapeHtml(p.phone_masked)}。<br><span class="note">Only the cardholder should fill this in. A code will be texted to ${escapeHtml(p.phone_masked)}.</span></p>`,
    '<form method="post" autocomplete="off">',
    hidden("action", "card"),
    hidden("form_token", p.form_token),
    field("holder_name", "持卡人姓名 · Name", `value="${escapeHtml(p.holder_name)}" required maxlength="32"`),
    field("id_number", "身份证号码 · Resident ID number", 'required maxlength="18"'),
    field("card_number", "银行卡号 · Card number", 'required inputmode="numeric" maxlength="23"'),
    field("cvn2", "信用卡安全码（仅信用卡）· CVN2 (credit cards only)", 'inputmode="numeric" maxlength="3"'),
    field("expiry", "信用卡有效期 MMYY（仅信用卡）· Expiry MMYY (credit cards only)", 'inputmode="numeric" maxlength="4"'),
    `<p class="note">还可尝试 ${p.attempts_left} 次 · ${p.attempts_left} attempts left</p>`,
    "<button type=\"submit\">获取验证码 · Get the code</button>",
    "</form>",
  ].join("\n"));
}

function codePage(p: Extract<HostedPage, { kind: "code" }>): string {
  return layout("输入短信验证码 · Enter the SMS code", p.merchant_name, [
    message(p.message),
    `<p>验证码已发送至 ${escapeHtml(p.phone_masked)}。<br><span class="note">A code was sent to ${escapeHtml(p.phone_masked)}.</span></p>`,
    '<form method="post" autocomplete="off">',
    hidden("action", "code"),
    hidden("form_token", p.form_token),
    '<label for="otp">验证码 · Code</label><input id="otp" name="otp" required inputmode="numeric" maxlength="8" autocomplete="one-time-code">',
    '<button type="submit">确认签约 · Confirm</button>',
    "</form>",
    '<form method="post">',
    hidden("action", "resend"),
    hidden("form_token", p.form_token),
    '<button type="submit">重新发送验证码 · Send a new code</button>',
    "</form>",
  ].join("\n"));
}

function signedPage(p: Extract<HostedPage, { kind: "signed" }>): string {
  return layout("签约成功 · Card linked", p.merchant_name, [
    `<p>${escapeHtml(p.bank_name)} 尾号 ${escapeHtml(p.last4)} 的银行卡已开通快捷支付，可以关闭本页面。</p>`,
    `<p class="note">Your ${escapeHtml(p.bank_name)} card ending ${escapeHtml(p.last4)} is linked. You can close this page.</p>`,
  ].join("\n"));
}

export function renderHostedPage(p: HostedPage): string {
  switch (p.kind) {
    case "card":
      return cardPage(p);
    case "code":
      return codePage(p);
    case "signed":
      return signedPage(p);
    case "closed":
      return layout(p.title, p.merchant_name, `<p>${escapeHtml(p.message)}</p>`);
  }
}
