import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { apiKeys, users } from "../../db/schema/index.js";
import { ConflictError, NotFoundError, ValidationError } from "../../errors.js";
import type { ServiceDeps } from "../deps.js";
import { applyRevocations, recordRevocation } from "./revocations.js";
import { keyCreateInput, keyIdSchema, parseInput } from "./schemas.js";
import type { Scope } from "./scopes.js";
import { cachedApiKeyRow, statements } from "./statements.js";
import { API_KEY_PREFIX, hashSecret, newApiKey, parseApiKey, secretMatches } from "./tokens.js";
import { AUTH_DATABASE, type Identity, TOUCH_INTERVAL_MS } from "./types.js";

export interface KeyInfo {
  id: string;
  name: string;
  scope: Scope;
  /** The key's first characters (`cc_live_` and part of its id, never the secret), to tell keys apart. */
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

export interface MintedKey {
  id: string;
  name: string;
  scope: Scope;
  prefix: string;
  /** The whole key, shown this once; only a SHA-256 of its secret is stored. */
  key: string;
  created_at: string;
  expires_at: string | null;
}

/** A key whose secret matched but whose expiry passed: refused (401), and told why. */
export interface ExpiredKey {
  expiredAt: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

/** Enough of the id to tell two keys apart; the id is a lookup key, not a secret. */
export const keyPrefix = (id: string) => `${API_KEY_PREFIX}${id.slice(0, 8)}`;

/** Mints a key for the operator account (there is exactly one); 409 before the first-time setup. */
export async function createKey(
  deps: ServiceDeps,
  input: { name: unknown; scope?: unknown; expires_at?: unknown },
): Promise<MintedKey> {
  const { name, scope, expires_at } = parseInput(keyCreateInput, input);
  const { id, secret, key } = newApiKey();
  const createdAt = deps.now().getTime();
  const expiresAt = expires_at === undefined || expires_at === null ? null : Date.parse(expires_at);
  if (expiresAt !== null && expiresAt <= createdAt) {
    throw new ValidationError("expires_at must be in the future", {
      issues: [{ path: "expires_at", message: "expires_at must be in the future" }],
    });
  }
  await deps.registry.holder(AUTH_DATABASE).lease((db) => {
    const userId = db.select({ id: users.id }).from(users).orderBy(asc(users.id)).limit(1).get()?.id;
    if (userId === undefined) throw new ConflictError("no operator account yet; run the first-time setup");
    db.insert(apiKeys)
      .values({ id, name, userId, secretHash: hashSecret(secret), createdAt, scope, expiresAt })
      .run();
  });
  deps.logger.info({ keyId: id, name, scope }, "API key created");
  const created_at = iso(createdAt);
  return { id, name, scope, prefix: keyPrefix(id), key, created_at, expires_at: isoOrNull(expiresAt) };
}

/** Keys not revoked (expired ones too, marked by their expiry), oldest first; never a secret or a hash. */
export async function listKeys(deps: ServiceDeps): Promise<{ keys: KeyInfo[] }> {
  const rows = await deps.registry.holder(AUTH_DATABASE).lease((db) =>
    db
      .select({
        id: apiKeys.id,
        name: apiKeys.name,
        scope: apiKeys.scope,
        createdAt: apiKeys.createdAt,
        expiresAt: apiKeys.expiresAt,
        lastUsedAt: apiKeys.lastUsedAt,
      })
      .from(apiKeys)
      .where(isNull(apiKeys.revokedAt))
      // Keys minted in the same millisecond keep their minting order (rowid), not their random ids' order.
      .orderBy(asc(apiKeys.createdAt), sql`rowid`)
      .all(),
  );
  const keys = rows.map((r) => ({
    id: r.id,
    name: r.name,
    scope: r.scope,
    prefix: keyPrefix(r.id),
    created_at: iso(r.createdAt),
    expires_at: isoOrNull(r.expiresAt),
    last_used_at: isoOrNull(r.lastUsedAt),
  }));
  return { keys };
}

/** Refused from the next request on: recorded outside app.db first, so a later restore keeps it revoked. */
export async function revokeKey(deps: ServiceDeps, keyId: unknown): Promise<{ revoked: string }> {
  const id = parseInput(keyIdSchema, keyId);
  const holder = deps.registry.holder(AUTH_DATABASE);
  const active = await holder.lease((db) =>
    db
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .get(),
  );
  if (!active) throw new NotFoundError(`no active API key with id "${id}"`, { id });
  const at = deps.now().getTime();
  await recordRevocation(deps, id, at);
  await holder.lease((db) => applyRevocations(db, [id], at));
  deps.logger.info({ keyId: id }, "API key revoked");
  return { revoked: id };
}

/**
 * One lookup by id and a constant-time compare; with `touch`, last_used_at is written at most hourly.
 * An expired key is reported as such only once its secret matched.
 */
export async function verifyApiKey(
  deps: ServiceDeps,
  key: string,
  options: { touch: boolean },
): Promise<Identity | ExpiredKey | null> {
  const parsed = parseApiKey(key);
  if (!parsed) return null;
  const now = deps.now().getTime();
  return deps.registry.holder(AUTH_DATABASE).lease((db) => {
    const row = options.touch ? statements(db).apiKey.get({ id: parsed.id }) : cachedApiKeyRow(db, parsed.id, now);
    if (!row || row.revokedAt !== null || !secretMatches(parsed.secret, row.secretHash)) return null;
    if (row.expiresAt !== null && row.expiresAt <= now) return { expiredAt: iso(row.expiresAt) };
    if (options.touch && (row.lastUsedAt === null || now - row.lastUsedAt >= TOUCH_INTERVAL_MS)) {
      try {
        db.update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, parsed.id)).run();
      } catch (error) {
        deps.logger.warn({ err: error }, "could not record an API key's last use");
      }
    }
    return { userId: row.userId, username: row.username, via: "api_key", scope: row.scope, keyId: parsed.id };
  });
}
