import { serialize } from "hono/utils/cookie";
import type { NewSession } from "../../services/auth/index.js";

export const SESSION_COOKIE = "cc_session";

/** HttpOnly, SameSite=Lax, Path=/, Secure when the client came over TLS; lives as long as the session. */
export function sessionCookie(session: NewSession, now: Date, secure: boolean): string {
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
