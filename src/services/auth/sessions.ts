import { eq, lt } from "drizzle-orm";
import type { AppDb } from "../../db/connection.js";
import { sessions } from "../../db/schema/index.js";
import type { ServiceDeps } from "../deps.js";
import { statements } from "./statements.js";
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

export async function createSession(deps: ServiceDeps, userId: number): Promise<NewSession> {
  const { id, secret, token } = newSessionToken();
  const now = deps.now().getTime();
  const expiresAt = now + SESSION_LIFETIME_MS;
  await deps.registry.holder(AUTH_DATABASE).lease((db) => {
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
    const row = statements(db).session.get({ id: parsed.id });
    if (!row || !secretMatches(parsed.secret, row.secretHash) || row.expiresAt <= now) return null;
    const identity: Identity = { userId: row.userId, username: row.username, via: "session", sessionId: parsed.id };
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
  });
}

/** Ends every session; returns how many there were. */
export function deleteAllSessions(db: AppDb): number {
  return db.delete(sessions).run().changes;
}
