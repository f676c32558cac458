import type { PaycoreError } from "../kernel/errors.ts";

/**
 * What the cardholder reads when something goes wrong: plain words in Chinese and English, keyed
 * by the error's code and field. Never the input itself, never a stack trace.
 */
const FIELD_MESSAGES: Record<string, string> = {
  "card.holder_name": "姓名与银行预留信息不符或格式有误。The name is not valid or does not match the bank's records.",
  "card.id_number": "身份证号码有误或与银行预留信息不符。The resident ID number is not valid or does not match the bank's records.",
  "card.card_number": "银行卡号有误，或银行不接受该卡。The card number is not valid, or the bank did not accept this card.",
  "card.phone": "该卡在银行预留的手机号不是收到邀请短信的号码。This card's bank-reserved mobile number is not the one the invitation was sent to.",
  "card.cvn2": "信用卡请填写卡背面的三位安全码和有效期。For a credit card, enter the 3-digit CVN2 and the expiry date.",
  "card.expiry": "信用卡有效期请按 MMYY 填写。Enter the credit card's expiry as MMYY.",
};

export function pageMessage(err: PaycoreError): string {
  switch (err.code) {
    case "invalid_request":
      return FIELD_MESSAGES[err.field ?? ""] ?? "填写的信息有误，请检查后重试。Some details are not valid; please check and try again.";
    case "otp_invalid":
      return `验证码错误，请重新输入。The code is wrong. (${err.message.replace(/^the code is wrong\s*/, "")})`.replace(" ()", "");
    case "otp_expired":
      return "验证码已过期，请重新获取。The code has expired; send a new one or start again.";
    case "otp_attempts_exceeded":
      return "验证码错误次数过多，请重新填写银行卡信息。Too many wrong codes; enter your card again.";
    case "rate_limited":
      return "请稍后再获取新的验证码（每分钟最多一次）。A new code can be sent once a minute.";
    case "channel_unavailable":
      return "银行暂时无法处理，请稍后重试。The bank could not be reached; please try again in a few minutes.";
    case "limit_exceeded":
      return "已超过签约次数限制。The signing limit was reached.";
    case "merchant_suspended":
    case "forbidden":
      return "该商户目前无法办理签约。This merchant cannot take card signings at the moment.";
    default:
      return "银行未能完成签约，请稍后重试或更换银行卡。The bank could not complete the signing; try again later or use another card.";
  }
}
