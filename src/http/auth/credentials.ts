import { SESSION_COOKIE } from "../../lib/session-cookie.js";
import { type Credential, MAX_TOKEN_LENGTH } from "../../services/auth/index.js";

export type Presented = Credential | { kind: "none" } | { kind: "malformed" };

const MAX_AUTHORIZATION_LENGTH = 256;
const BEARER = /^Bearer +([\x21-\x7e]+) *$/i;

/**
 * Splits a request's credential out of its headers without touching the database. An Authorization
 * header decides on its own (a bad one is never rescued by a cookie); there is no Basic auth.
 */
export function readCredentials(headers: Headers): Presented {
  const authorization = headers.get("authorization");
  if (authorization !== null) {
    if (authorization.length > MAX_AUTHORIZATION_LENGTH) return { kind: "malformed" };
    const match = BEARER.exec(authorization);
    return match ? { kind: "api_key", key: match[1] as string } : { kind: "malformed" };
  }
  const cookie = headers.get("cookie");
  if (!cookie) return { kind: "none" };
  const token = cookieValue(cookie, SESSION_COOKIE);
  if (!token) return { kind: "none" };
  return token.length > MAX_TOKEN_LENGTH ? { kind: "malformed" } : { kind: "session", token };
}

export function isCredential(presented: Presented): presented is Credential {
  return presented.kind === "api_key" || presented.kind === "session";
}

/**
 * The first value of one cookie, unquoted. nginx sends the cookie header on every /verify, and a general
 * parser (every pair, percent-decoding) cost more than the rest of reading it; a session token is plain
 * base32, so a percent-encoded one is simply not a valid token.
 */
export function cookieValue(header: string, name: string): string | undefined {
  let start = 0;
  while (start < header.length) {
    const semicolon = header.indexOf(";", start);
    const end = semicolon === -1 ? header.length : semicolon;
    const equals = header.indexOf("=", start);
    if (equals !== -1 && equals < end && header.slice(start, equals).trim() === name) {
      const value = header.slice(equals + 1, end).trim();
      return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
    }
    start = end + 1;
  }
  return undefined;
}
