import { existsSync, readFileSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";

/**
 * Serves the operations console (console/, built by Vite into console/dist) at /console. The
 * page is static; every call it makes goes to the admin API with the operator's token, so the
 * console can do exactly what the token's role may do. Nothing is loaded from elsewhere: the CSP
 * allows only this origin.
 */
export const CONSOLE_DIST = fileURLToPath(new URL("../../console/dist/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export function installConsole(app: FastifyInstance, dist = CONSOLE_DIST): void {
  const send = (path: string) => {
    const file = normalize(join(dist, path));
    if (!file.startsWith(dist) || !existsSync(file) || !TYPES[extname(file)]) return null;
    return { body: readFileSync(file), type: TYPES[extname(file)]!, immutable: path.startsWith("assets/") };
  };
  app.get("/console", async (_req, reply) => reply.redirect("/console/", 302));
  app.get("/console/*", async (request, reply) => {
    const rest = (request.params as { "*": string })["*"] ?? "";
    // Unknown paths inside the console answer its page (the app routes in the browser).
    const found = send(rest === "" ? "index.html" : rest) ?? (extname(rest) ? null : send("index.html"));
    if (!found) {
      const built = existsSync(join(dist, "index.html"));
      return reply.code(built ? 404 : 503).type("text/plain; charset=utf-8").send(built ? "not found" : "the console is not built: run `npm run build -w @paycore/console` (npm install does it)");
    }
    return reply
      .header("content-security-policy", CSP)
      .header("x-content-type-options", "nosniff")
      .header("cache-control", found.immutable ? "public, max-age=31536000, immutable" : "no-cache")
      .type(found.type)
      .send(found.body);
  });
}
