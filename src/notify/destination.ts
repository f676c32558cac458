import type { Settings } from "../context.ts";
import { invalidRequest } from "../kernel/errors.ts";
import { allowListOf, urlProblem } from "../kernel/net-guard.ts";

/**
 * A notify URL given by a merchant or an operator, judged when it is given (scheme, credentials,
 * internal address literals, `localhost`): bad input answers 400 naming the field. Names are
 * resolved and judged again at every delivery, which is what actually guards (DNS can change).
 */
export function checkNotifyUrl(settings: Pick<Settings, "webhook_allow_hosts">, url: string | null | undefined, field: string): void {
  if (url === null || url === undefined) return;
  const problem = urlProblem(url, allowListOf(settings.webhook_allow_hosts));
  if (problem) throw invalidRequest(field, problem);
}
