import { z } from "zod";
import { ForbiddenError } from "../../errors.js";

/**
 * What an API key may do, each scope including the ones before it: `read` sees (lists, status, metrics,
 * downloads), `operate` also changes backups (create, verify, upload, restore, delete, push, fetch),
 * `admin` also manages the service (keys, schedules, databases, upgrades, the password). A session is admin.
 */
export const SCOPES = ["read", "operate", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

/** A key minted without a scope can only read: the least that works for a dashboard or a scraper. */
export const DEFAULT_SCOPE: Scope = "read";

export const scopeSchema = z
  .enum(SCOPES, { error: 'scope must be "read", "operate" or "admin"' })
  .meta({ description: "read: lists, status, metrics, downloads; operate: + backup changes; admin: + everything." });

export function allows(held: Scope, needed: Scope): boolean {
  return SCOPES.indexOf(held) >= SCOPES.indexOf(needed);
}

/** The 403 for a key used beyond its scope: what it tried, what it would need, what it has. */
export function outOfScope(held: Scope, needed: Scope, what: string): ForbiddenError {
  return new ForbiddenError(`this API key's scope is "${held}"; ${what} needs an API key with scope "${needed}"`, {
    required_scope: needed,
    scope: held,
  });
}

/** Throws unless `held` covers `needed`. */
export function requireScope(held: Scope, needed: Scope, what: string): void {
  if (!allows(held, needed)) throw outOfScope(held, needed, what);
}
