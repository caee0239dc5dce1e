import { parse } from "hono/utils/cookie";
import { type Credential, MAX_TOKEN_LENGTH } from "../../services/auth/index.js";
import { SESSION_COOKIE } from "./session-cookie.js";

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
  const token = parse(cookie, SESSION_COOKIE)[SESSION_COOKIE];
  if (!token) return { kind: "none" };
  return token.length > MAX_TOKEN_LENGTH ? { kind: "malformed" } : { kind: "session", token };
}

export function isCredential(presented: Presented): presented is Credential {
  return presented.kind === "api_key" || presented.kind === "session";
}
