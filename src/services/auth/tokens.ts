import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { encodeBase32LowerCaseNoPadding } from "@oslojs/encoding";

/** Lowercase base32 (a-z, 2-7): no '.' or '_', so token parts split unambiguously. */
function randomString(bytes: number): string {
  return encodeBase32LowerCaseNoPadding(randomBytes(bytes));
}

export const API_KEY_PREFIX = "cc_live_";
/** Anything longer than this is refused before any parsing or lookup. */
export const MAX_TOKEN_LENGTH = 128;

const SESSION_TOKEN = /^([a-z2-7]{24})\.([a-z2-7]{24})$/;
const API_KEY = /^cc_live_([a-z2-7]{16})_([a-z2-7]{32})$/;
export const API_KEY_ID = /^[a-z2-7]{16}$/;

export interface SplitToken {
  id: string;
  secret: string;
}

/** A session token `<id>.<secret>`: 120 random bits each (Lucia's current guidance). */
export function newSessionToken(): SplitToken & { token: string } {
  const id = randomString(15);
  const secret = randomString(15);
  return { id, secret, token: `${id}.${secret}` };
}

/** An API key `cc_live_<id>_<secret>`: an 80-bit lookup id and a 160-bit secret. */
export function newApiKey(): SplitToken & { key: string } {
  const id = randomString(10);
  const secret = randomString(20);
  return { id, secret, key: `${API_KEY_PREFIX}${id}_${secret}` };
}

export function parseSessionToken(token: string): SplitToken | null {
  if (token.length > MAX_TOKEN_LENGTH) return null;
  const match = SESSION_TOKEN.exec(token);
  return match ? { id: match[1] as string, secret: match[2] as string } : null;
}

export function parseApiKey(key: string): SplitToken | null {
  if (key.length > MAX_TOKEN_LENGTH) return null;
  const match = API_KEY.exec(key);
  return match ? { id: match[1] as string, secret: match[2] as string } : null;
}

/** Only this digest of a secret is ever stored. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** Compares a presented secret with a stored digest in constant time. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = createHash("sha256").update(secret, "utf8").digest();
  const stored = Buffer.from(storedHash, "hex");
  return stored.length === presented.length && timingSafeEqual(stored, presented);
}
