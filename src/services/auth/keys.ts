import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { apiKeys, users } from "../../db/schema/index.js";
import { ConflictError, NotFoundError } from "../../errors.js";
import type { ServiceDeps } from "../deps.js";
import { applyRevocations, recordRevocation } from "./revocations.js";
import { keyIdSchema, keyNameSchema, parseInput } from "./schemas.js";
import { cachedApiKeyRow, statements } from "./statements.js";
import { hashSecret, newApiKey, parseApiKey, secretMatches } from "./tokens.js";
import { AUTH_DATABASE, type Identity, TOUCH_INTERVAL_MS } from "./types.js";

export interface KeyInfo {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

export interface MintedKey {
  id: string;
  name: string;
  /** The whole key, shown this once; only a SHA-256 of its secret is stored. */
  key: string;
  created_at: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Mints a key for the operator account (there is exactly one); 409 before the first-time setup. */
export async function createKey(deps: ServiceDeps, input: { name: unknown }): Promise<MintedKey> {
  const name = parseInput(keyNameSchema, input.name);
  const { id, secret, key } = newApiKey();
  const createdAt = deps.now().getTime();
  await deps.registry.holder(AUTH_DATABASE).lease((db) => {
    const userId = db.select({ id: users.id }).from(users).orderBy(asc(users.id)).limit(1).get()?.id;
    if (userId === undefined) throw new ConflictError("no operator account yet; run the first-time setup");
    db.insert(apiKeys)
      .values({ id, name, userId, secretHash: hashSecret(secret), createdAt })
      .run();
  });
  deps.logger.info({ keyId: id, name }, "API key created");
  return { id, name, key, created_at: iso(createdAt) };
}

/** Keys that still work, oldest first; never a secret or a hash. */
export async function listKeys(deps: ServiceDeps): Promise<{ keys: KeyInfo[] }> {
  const rows = await deps.registry.holder(AUTH_DATABASE).lease((db) =>
    db
      .select({ id: apiKeys.id, name: apiKeys.name, createdAt: apiKeys.createdAt, lastUsedAt: apiKeys.lastUsedAt })
      .from(apiKeys)
      .where(isNull(apiKeys.revokedAt))
      // Keys minted in the same millisecond keep their minting order (rowid), not their random ids' order.
      .orderBy(asc(apiKeys.createdAt), sql`rowid`)
      .all(),
  );
  const keys = rows.map((r) => ({
    id: r.id,
    name: r.name,
    created_at: iso(r.createdAt),
    last_used_at: r.lastUsedAt === null ? null : iso(r.lastUsedAt),
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

/** One lookup by id and a constant-time compare; with `touch`, last_used_at is written at most hourly. */
export async function verifyApiKey(
  deps: ServiceDeps,
  key: string,
  options: { touch: boolean },
): Promise<Identity | null> {
  const parsed = parseApiKey(key);
  if (!parsed) return null;
  const now = deps.now().getTime();
  return deps.registry.holder(AUTH_DATABASE).lease((db) => {
    const row = options.touch ? statements(db).apiKey.get({ id: parsed.id }) : cachedApiKeyRow(db, parsed.id, now);
    if (!row || row.revokedAt !== null || !secretMatches(parsed.secret, row.secretHash)) return null;
    if (options.touch && (row.lastUsedAt === null || now - row.lastUsedAt >= TOUCH_INTERVAL_MS)) {
      try {
        db.update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, parsed.id)).run();
      } catch (error) {
        deps.logger.warn({ err: error }, "could not record an API key's last use");
      }
    }
    return { userId: row.userId, username: row.username, via: "api_key", keyId: parsed.id };
  });
}
