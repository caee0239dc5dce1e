import { eq, lt } from "drizzle-orm";
import type { AppDb } from "../../db/connection.js";
import { sessions, users } from "../../db/schema/index.js";
import { AuthRequiredError } from "../../errors.js";
import type { ServiceDeps } from "../deps.js";
import { credentialCache } from "./credential-cache.js";
import { cachedSessionRow, statements } from "./statements.js";
import { hashSecret, newSessionToken, parseSessionToken, secretMatches } from "./tokens.js";
import { AUTH_DATABASE, type Identity, SESSION_LIFETIME_MS, TOUCH_INTERVAL_MS } from "./types.js";

export interface NewSession {
  /** `<id>.<secret>`: goes into the cookie once and is never stored or logged. */
  token: string;
  expiresAt: number;
}

export interface SessionCheck {
  identity: Identity;
  expiresAt: number;
  /** The expiry slid forward on this call, so the cookie should be sent again. */
  renewed: boolean;
}

/**
 * With `verifiedHash`, the session is created only if the user still has the password hash the caller
 * checked, read in the same lease as the insert: a restore of `default` in between (other credentials,
 * every session ended) makes it a 401, not a session the restore should have ended.
 */
export async function createSession(deps: ServiceDeps, userId: number, verifiedHash?: string): Promise<NewSession> {
  const { id, secret, token } = newSessionToken();
  const now = deps.now().getTime();
  const expiresAt = now + SESSION_LIFETIME_MS;
  await deps.registry.holder(AUTH_DATABASE).lease((db) => {
    if (verifiedHash !== undefined) {
      const user = db.select({ hash: users.passwordHash }).from(users).where(eq(users.id, userId)).get();
      if (user?.hash !== verifiedHash) throw new AuthRequiredError("invalid username or password");
    }
    db.delete(sessions).where(lt(sessions.expiresAt, now)).run();
    db.insert(sessions)
      .values({ id, userId, secretHash: hashSecret(secret), createdAt: now, expiresAt, lastVerifiedAt: now })
      .run();
  });
  return { token, expiresAt };
}

/**
 * One lookup by id and a constant-time compare. With `touch`, a session last seen over an hour ago
 * gets its expiry slid forward; /verify passes no `touch`, so it never writes.
 */
export async function verifySession(
  deps: ServiceDeps,
  token: string,
  options: { touch: boolean },
): Promise<SessionCheck | null> {
  const parsed = parseSessionToken(token);
  if (!parsed) return null;
  const now = deps.now().getTime();
  return deps.registry.holder(AUTH_DATABASE).lease((db) => {
    const row = options.touch ? statements(db).session.get({ id: parsed.id }) : cachedSessionRow(db, parsed.id, now);
    if (!row || !secretMatches(parsed.secret, row.secretHash) || row.expiresAt <= now) return null;
    const identity: Identity = {
      userId: row.userId,
      username: row.username,
      via: "session",
      scope: "admin",
      sessionId: parsed.id,
    };
    if (!options.touch || now - row.lastVerifiedAt < TOUCH_INTERVAL_MS) {
      return { identity, expiresAt: row.expiresAt, renewed: false };
    }
    const expiresAt = now + SESSION_LIFETIME_MS;
    try {
      db.update(sessions).set({ lastVerifiedAt: now, expiresAt }).where(eq(sessions.id, parsed.id)).run();
    } catch (error) {
      // A busy database must not turn a valid session into a refusal; the next request retries.
      deps.logger.warn({ err: error }, "could not renew a session");
      return { identity, expiresAt: row.expiresAt, renewed: false };
    }
    return { identity, expiresAt, renewed: true };
  });
}

export async function deleteSession(deps: ServiceDeps, sessionId: string): Promise<void> {
  await deps.registry.holder(AUTH_DATABASE).lease((db) => {
    db.delete(sessions).where(eq(sessions.id, sessionId)).run();
    credentialCache(db, "session").delete(sessionId);
  });
}

/** Ends every session; returns how many there were. */
export function deleteAllSessions(db: AppDb): number {
  const ended = db.delete(sessions).run().changes;
  credentialCache(db, "session").clear();
  return ended;
}
