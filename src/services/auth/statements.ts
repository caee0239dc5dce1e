import { eq, sql } from "drizzle-orm";
import type { AppDb } from "../../db/connection.js";
import { apiKeys, sessions, users } from "../../db/schema/index.js";

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
