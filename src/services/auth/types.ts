import type { Scope } from "./scopes.js";

/** Who a request acts for, once its cookie or API key checked out. */
export interface Identity {
  userId: number;
  username: string;
  via: "session" | "api_key";
  /** What it may do: a session is admin, a key has the scope it was minted with. */
  scope: Scope;
  /** The session's id (never its secret), when `via` is "session". */
  sessionId?: string;
  /** The key's id, when `via` is "api_key". */
  keyId?: string;
}

/** The only database that holds credentials; a restore of it resets sessions. */
export const AUTH_DATABASE = "default";

export const SESSION_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000;
/** last_verified_at, last_used_at and the sliding expiry are written at most this often. */
export const TOUCH_INTERVAL_MS = 60 * 60 * 1000;
