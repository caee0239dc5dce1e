import type { ServiceDeps } from "../deps.js";
import { type ExpiredKey, verifyApiKey } from "./keys.js";
import { verifySession } from "./sessions.js";
import type { Identity } from "./types.js";

/** What a request presented, already split out of its headers by the transport. */
export type Credential = { kind: "api_key"; key: string } | { kind: "session"; token: string };

export interface Authenticated {
  identity: Identity;
  /** Set when a session's expiry slid forward: the transport sends the cookie again. */
  renewedSession?: { token: string; expiresAt: number };
}

/**
 * Resolves a credential to an identity, or null. `touch` allows the throttled bookkeeping writes
 * (sliding expiry, last use); /verify leaves it off and stays read-only.
 */
export async function authenticate(
  deps: ServiceDeps,
  credential: Credential,
  options: { touch: boolean },
): Promise<Authenticated | ExpiredKey | null> {
  if (credential.kind === "api_key") {
    const identity = await verifyApiKey(deps, credential.key, options);
    return identity === null || "expiredAt" in identity ? identity : { identity };
  }
  const check = await verifySession(deps, credential.token, options);
  if (!check) return null;
  return check.renewed
    ? { identity: check.identity, renewedSession: { token: credential.token, expiresAt: check.expiresAt } }
    : { identity: check.identity };
}
