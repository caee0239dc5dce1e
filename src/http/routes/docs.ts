import { randomBytes } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { renderApiReference } from "@scalar/client-side-rendering";
import { z } from "zod";
import { API_BASE } from "../openapi/document.js";
import { errorResponses, header, PUBLIC } from "../openapi/responses.js";
import { apiRouter, defineRoute } from "../openapi/router.js";

const tags = ["Service"];
const SCRIPT_PATH = `${API_BASE}/docs/scalar.js`;

/**
 * The reference page's script is served by this service, never a CDN: the build copies Scalar's bundle into
 * dist/vendor (scripts/vendor-scalar.mjs); running from sources, it is read from the dev dependency.
 */
function scalarScript(): string {
  const built = fileURLToPath(new URL("../../vendor/scalar-standalone.js", import.meta.url));
  if (existsSync(built)) return built;
  const entry = createRequire(import.meta.url).resolve("@scalar/api-reference");
  return path.join(path.dirname(entry), "browser", "standalone.js");
}

/**
 * The page's own policy: only this origin, its one inline script by nonce. Scalar injects its styles at
 * run time, hence 'unsafe-inline' for styles (with no nonce there, or browsers would ignore it).
 */
export function docsContentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'self' 'nonce-${nonce}'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

/** Scalar's page (what its Hono middleware renders), pointed at this service's script and document. */
const renderPage = (nonce: string) =>
  withBlankIcon(
    renderApiReference({
      config: {
        url: `${API_BASE}/openapi.json`,
        // Nothing that reaches beyond this service: no web fonts, telemetry, AI agent, MCP or hosted tools.
        withDefaultFonts: false,
        telemetry: false,
        agent: { disabled: true },
        mcp: { disabled: true },
        showDeveloperTools: "never",
        persistAuth: false,
      },
      pageTitle: "Chaos Cypher backup API",
      cdn: SCRIPT_PATH,
      nonce,
    }),
  );

/** Without an icon of its own the browser asks for /favicon.ico, which this API does not serve (a console error). */
const withBlankIcon = (html: string) => html.replace("<head>", '<head>\n    <link rel="icon" href="data:," />');

const page = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "The interactive API reference (this document, rendered)",
  security: PUBLIC,
  responses: {
    200: {
      description: "An HTML page; its script is served by this service.",
      headers: { "Content-Security-Policy": header("The page's own policy (docs/api.md).") },
      content: { "text/html": { schema: z.string() } },
    },
    ...errorResponses(),
  },
});

const script = defineRoute({
  method: "get",
  path: "/scalar.js",
  tags,
  summary: "The reference page's script (Scalar's standalone bundle)",
  security: PUBLIC,
  responses: {
    200: { description: "JavaScript.", content: { "text/javascript": { schema: z.string() } } },
    ...errorResponses(),
  },
});

let scalarFile: string | undefined;

export const docsRoutes = apiRouter()
  .openapi(page, async (c) => {
    const nonce = randomBytes(16).toString("base64");
    c.header("Content-Security-Policy", docsContentSecurityPolicy(nonce));
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("Cache-Control", "no-store");
    return c.html(renderPage(nonce), 200);
  })
  .openapi(script, () => {
    scalarFile ??= scalarScript();
    const { size } = statSync(scalarFile);
    return new Response(Readable.toWeb(createReadStream(scalarFile)) as ReadableStream, {
      headers: {
        "Content-Type": "text/javascript; charset=utf-8",
        "Content-Length": String(size),
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
      },
    });
  });
