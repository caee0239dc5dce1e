import { serialize } from "hono/utils/cookie";

export const SESSION_COOKIE = "cc_session";

/** A session as the cookie needs it: the `<id>.<secret>` token and its expiry (ms since the epoch). */
export interface CookieSession {
  token: string;
  expiresAt: number;
}

/**
 * HttpOnly, SameSite=Lax, Path=/, Secure when the client came over TLS; lives as long as the session.
 * Shared by the REST routes and the tRPC procedures, which set the same cookie.
 */
export function sessionCookie(session: CookieSession, now: Date, secure: boolean): string {
  const maxAge = Math.max(0, Math.round((session.expiresAt - now.getTime()) / 1000));
  return serialize(SESSION_COOKIE, session.token, {
    path: "/",
    httpOnly: true,
    sameSite: "Lax",
    secure,
    maxAge,
    expires: new Date(session.expiresAt),
  });
}

export function clearedSessionCookie(secure: boolean): string {
  return serialize(SESSION_COOKIE, "", {
    path: "/",
    httpOnly: true,
    sameSite: "Lax",
    secure,
    maxAge: 0,
    expires: new Date(0),
  });
}
