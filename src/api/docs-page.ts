import type { buildOpenApi } from "./openapi.ts";

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

type Doc = ReturnType<typeof buildOpenApi>;
interface Op {
  summary: string;
  description?: string;
  tags: string[];
  security: unknown[];
  "x-roles"?: string[];
  parameters: { name: string; in: string; required: boolean; schema: unknown }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}

/** A readable, self-contained page (no scripts, no external assets) rendered from the OpenAPI document. */
export function renderDocsPage(doc: Doc): string {
  const byTag = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, raw] of Object.entries(methods)) {
      const op = raw as Op;
      const tag = op.tags[0] ?? "other";
      const list = byTag.get(tag) ?? [];
      list.push(renderOp(method, path, op));
      byTag.set(tag, list);
    }
  }
  const sections = [...byTag.entries()].map(([tag, ops]) => `<section><h2 id="${esc(tag)}">${esc(tag)}</h2>${ops.join("")}</section>`).join("");
  const toc = [...byTag.keys()].map((t) => `<a href="#${esc(t)}">${esc(t)}</a>`).join(" · ");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>paycore API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#1d2330}
h1{margin-bottom:0}code,pre{font:13px/1.4 ui-monospace,monospace}pre{background:#f4f5f7;padding:.7em;overflow:auto;border-radius:4px}
.op{border:1px solid #dde1e6;border-radius:6px;margin:1em 0;padding:.6em 1em}.m{font-weight:700;display:inline-block;min-width:4em}
.GET{color:#1a7f37}.POST{color:#0550ae}.PATCH,.PUT{color:#9a6700}.DELETE{color:#cf222e}.auth{color:#57606a;font-size:13px}
summary{cursor:pointer;color:#57606a}
</style></head><body>
<h1>paycore API</h1><p>${esc(doc.info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}). Sections: ${toc}</p>
<section><h2>Signing a request</h2>
<pre>Authorization: PAYCORE-HMAC-SHA256 mch_id="mch_…",key_id="key_…",timestamp="&lt;unix seconds&gt;",nonce="&lt;random&gt;",signature="&lt;base64&gt;"
signature = base64(HMAC-SHA256(secret, METHOD + "\\n" + PATH_WITH_QUERY + "\\n" + timestamp + "\\n" + nonce + "\\n" + BODY + "\\n"))</pre>
<p>BODY is the exact request bytes ("" for GET). The timestamp must be within 300 s of the server clock; a nonce may be used once per merchant ID within 15 minutes.
Answers carry <code>Paycore-Timestamp</code>, <code>Paycore-Nonce</code>, <code>Paycore-Signature</code> = base64(HMAC-SHA256(secret, timestamp + "\\n" + nonce + "\\n" + BODY + "\\n")).
Any POST may carry <code>Idempotency-Key</code>. Admin routes take <code>Authorization: Bearer &lt;operator token&gt;</code>.</p></section>
${sections}</body></html>`;
}

function renderOp(method: string, path: string, op: Op): string {
  const m = method.toUpperCase();
  const auth = op.security.length === 0 ? "no authentication" : op["x-roles"] ? `operator token (${op["x-roles"].join(", ")})` : "merchant signature";
  const params = op.parameters.length
    ? `<p>Parameters: ${op.parameters.map((p) => `<code>${esc(p.name)}</code> (${esc(p.in)}${p.required ? ", required" : ""})`).join(", ")}</p>`
    : "";
  const body = op.requestBody ? `<details><summary>Request body</summary><pre>${esc(JSON.stringify(Object.values(op.requestBody.content)[0]?.schema, null, 2))}</pre></details>` : "";
  const okKey = Object.keys(op.responses).find((k) => k !== "default");
  const okSchema = okKey ? Object.values(op.responses[okKey]?.content ?? {})[0]?.schema : undefined;
  const answer = okSchema ? `<details><summary>Answer ${esc(okKey ?? "")}</summary><pre>${esc(JSON.stringify(okSchema, null, 2))}</pre></details>` : "";
  return `<div class="op"><div><span class="m ${m}">${m}</span> <code>${esc(path)}</code> — ${esc(op.summary)}</div>
<div class="auth">${esc(auth)}</div>${op.description ? `<p>${esc(op.description)}</p>` : ""}${params}${body}${answer}</div>`;
}
