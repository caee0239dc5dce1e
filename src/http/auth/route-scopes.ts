import type { Scope } from "../../services/auth/index.js";
import { API_BASE } from "../openapi/document.js";

/**
 * The scope each protected REST route needs, by method and OpenAPI path under /api/v1 (plus /metrics at the
 * root). test/auth/scopes.test.ts checks that every route of the document is here, so none is forgotten; a path
 * not found here needs admin (a route added without an entry stays closed to lesser keys).
 */
export const REST_ROUTE_SCOPES: Readonly<Record<string, Scope>> = {
  "get /metrics": "read",
  "post /auth/logout": "read",
  "get /auth/me": "read",
  "get /backup": "read",
  "get /backup/{filename}/download": "read",
  "get /databases": "read",
  "get /offsite": "read",
  "get /schedule": "read",
  "get /status": "read",
  "get /upgrade/pending": "read",
  "post /backup": "operate",
  "post /backup/upload": "operate",
  "post /backup/{filename}/verify": "operate",
  "post /backup/{filename}/restore": "operate",
  "delete /backup/{filename}": "operate",
  "post /offsite/push": "operate",
  "post /offsite/{filename}/fetch": "operate",
  "post /auth/keys": "admin",
  "get /auth/keys": "admin",
  "delete /auth/keys/{id}": "admin",
  "post /auth/password": "admin",
  "post /databases": "admin",
  "patch /databases/current": "admin",
  "put /schedule": "admin",
  "post /upgrade/apply": "admin",
  "post /upgrade/rollback": "admin",
};

interface Pattern {
  method: string;
  regex: RegExp;
  params: number;
  scope: Scope;
}

// Templates without parameters are tried first, so `/databases/current` never matches a `{param}` template.
const patterns: Pattern[] = Object.entries(REST_ROUTE_SCOPES)
  .map(([key, scope]) => {
    const [method = "", template = ""] = key.split(" ");
    const base = template === "/metrics" ? "" : API_BASE;
    const params = (template.match(/\{/g) ?? []).length;
    return { method, regex: new RegExp(`^${base}${template.replace(/\{[^}]+\}/g, "[^/]+")}$`), params, scope };
  })
  .sort((a, b) => a.params - b.params);

/** The scope a REST request needs (HEAD as GET); admin for anything unknown. */
export function restScopeFor(method: string, path: string): Scope {
  const m = method.toLowerCase() === "head" ? "get" : method.toLowerCase();
  const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  return patterns.find((p) => p.method === m && p.regex.test(trimmed))?.scope ?? "admin";
}
