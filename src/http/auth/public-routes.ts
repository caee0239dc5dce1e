/** The only routes an anonymous request may reach (docs/security.md); nginx/nginx.conf.template mirrors this list. */
export const PUBLIC_API_PATHS: ReadonlySet<string> = new Set([
  "/api/v1/health",
  "/api/v1/auth/status",
  "/api/v1/auth/setup",
  "/api/v1/auth/login",
  "/api/v1/openapi.json",
  "/api/v1/docs",
  "/api/v1/docs/scalar.js",
]);

export const PUBLIC_PROCEDURES: ReadonlySet<string> = new Set(["auth.status", "auth.setup", "auth.login"]);

export type Surface = "api" | "trpc" | "ui";

export function surfaceOf(path: string): Surface {
  // The Prometheus endpoint sits at the root, where scrapers expect it, but is protected like the API.
  if (path === "/api" || path.startsWith("/api/") || path === "/metrics") return "api";
  if (path === "/trpc" || path.startsWith("/trpc/")) return "trpc";
  return "ui";
}

/** The procedures a tRPC URL calls, decoded the way tRPC's fetch adapter decodes them. */
export function trpcProcedures(url: string): string[] {
  const pathname = new URL(url).pathname;
  if (!pathname.startsWith("/trpc/")) return [];
  try {
    return decodeURIComponent(pathname.slice("/trpc/".length)).split(",");
  } catch {
    return [];
  }
}

/** Everything under /api and /trpc is protected unless listed above; the UI's pages are open. */
export function isPublicRequest(path: string, url: string): boolean {
  const surface = surfaceOf(path);
  if (surface === "ui") return true;
  if (surface === "api") return PUBLIC_API_PATHS.has(path);
  const procedures = trpcProcedures(url);
  return procedures.length > 0 && procedures.every((name) => PUBLIC_PROCEDURES.has(name));
}
