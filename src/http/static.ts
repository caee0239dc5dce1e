import { existsSync } from "node:fs";
import path from "node:path";
import { serveStatic } from "@hono/node-server/serve-static";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.js";

/** Paths owned by the API; the UI never answers them, so their 404s stay JSON. */
const API_PATHS = /^\/(api|trpc|verify)(\/|$)/;

const NOT_BUILT =
  "The maintenance UI is not built yet.\n" +
  "Run `npm run build:web` (or start the server with `npm start`, which builds it) and reload this page.\n";

/** No inline scripts or styles in the build, so the UI runs under a strict policy; it is never framed. */
const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy":
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

/** Serves the built single-page app from `webDir`; unknown page paths get index.html (client-side routing). */
export function webUi(webDir: string): MiddlewareHandler<AppEnv> {
  const indexFile = path.join(webDir, "index.html");
  // Made on first use: the directory may be built after the server started.
  let handlers: { files: MiddlewareHandler<AppEnv>; index: MiddlewareHandler<AppEnv> } | null = null;
  const skip = async () => {};

  return async (c, next) => {
    if (API_PATHS.test(c.req.path) || (c.req.method !== "GET" && c.req.method !== "HEAD")) return next();
    if (!existsSync(indexFile)) return c.text(NOT_BUILT, 503, { "Cache-Control": "no-store" });
    handlers ??= {
      files: serveStatic<AppEnv>({ root: webDir }),
      index: serveStatic<AppEnv>({ root: webDir, path: "index.html" }),
    };
    const { files, index } = handlers;
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
    // Vite names everything under assets/ by content hash; index.html must be revalidated to pick up a new build.
    const hashed = c.req.path.startsWith("/assets/");
    c.header("Cache-Control", hashed ? "public, max-age=31536000, immutable" : "no-cache");
    const found = await files(c, skip);
    if (found) return found;
    // A missing asset (`/assets/x.js`) is a real 404; any other path is a page of the app.
    if (hashed || path.posix.basename(c.req.path).includes(".")) {
      c.header("Cache-Control", undefined);
      return next();
    }
    return (await index(c, skip)) ?? next();
  };
}
