import { eq, sql } from "drizzle-orm";
import type { AppDb } from "../../db/connection.js";
import { apiKeys, sessions, users } from "../../db/schema/index.js";
import { credentialCache } from "./credential-cache.js";

function prepare(db: AppDb) {
  return {
    session: db
      .select({
        secretHash: sessions.secretHash,
        expiresAt: sessions.expiresAt,
        lastVerifiedAt: sessions.lastVerifiedAt,
        userId: users.id,
        username: users.username,
      })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(sessions.id, sql.placeholder("id")))
      .prepare(),
    apiKey: db
      .select({
        secretHash: apiKeys.secretHash,
        revokedAt: apiKeys.revokedAt,
        lastUsedAt: apiKeys.lastUsedAt,
        scope: apiKeys.scope,
        expiresAt: apiKeys.expiresAt,
        userId: users.id,
        username: users.username,
      })
      .from(apiKeys)
      .innerJoin(users, eq(users.id, apiKeys.userId))
      .where(eq(apiKeys.id, sql.placeholder("id")))
      .prepare(),
  };
}

type Statements = ReturnType<typeof prepare>;

// Statements belong to one connection; a restore opens a new one, which gets its own set.
const cache = new WeakMap<AppDb, Statements>();

/** The hot-path lookups (by primary key), prepared once per connection. */
export function statements(db: AppDb): Statements {
  let prepared = cache.get(db);
  if (!prepared) {
    prepared = prepare(db);
    cache.set(db, prepared);
  }
  return prepared;
}

type Row<S extends { get: (...args: never[]) => unknown }> = NonNullable<ReturnType<S["get"]>>;
export type ApiKeyRow = Row<Statements["apiKey"]>;
export type SessionRow = Row<Statements["session"]>;

/**
 * The key's row, for the read-only /verify: a usable row read in the last few seconds is answered from
 * memory, so nginx's check before every request costs no query.
 */
export function cachedApiKeyRow(db: AppDb, id: string, now: number): ApiKeyRow | undefined {
  const cache = credentialCache<ApiKeyRow>(db, "api_key");
  const hit = cache.get(id, now);
  if (hit) return hit;
  const row = statements(db).apiKey.get({ id });
  if (row && row.revokedAt === null) cache.set(id, row, now);
  return row;
}

/** Likewise for sessions; a cached row past its expiry is read again, since a renewal may have moved it. */
export function cachedSessionRow(db: AppDb, id: string, now: number): SessionRow | undefined {
  const cache = credentialCache<SessionRow>(db, "session");
  const hit = cache.get(id, now);
  if (hit && hit.expiresAt > now) return hit;
  const row = statements(db).session.get({ id });
  if (row && row.expiresAt > now) cache.set(id, row, now);
  return row;
}
