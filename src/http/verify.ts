import type { Context } from "hono";
import { authenticate } from "../services/auth/index.js";
import { isCredential, readCredentials } from "./auth/credentials.js";
import type { AppEnv } from "./env.js";

/**
 * nginx's auth_request target: 204 + X-Auth-User for a valid cookie or API key, 401 for anything
 * else, including failures (a gate that timed out during a restore). Never another status: nginx
 * turns those into a 500. Read-only: a primary-key lookup and a hash compare.
 */
export async function verifyHandler(c: Context<AppEnv>): Promise<Response> {
  c.header("Cache-Control", "no-store");
  try {
    const presented = readCredentials(c.req.raw.headers);
    const result = isCredential(presented) ? await authenticate(c.get("services"), presented, { touch: false }) : null;
    if (result) {
      c.header("X-Auth-User", result.identity.username);
      c.header("X-Auth-Via", result.identity.via);
      return c.body(null, 204);
    }
  } catch (error) {
    c.get("log").warn({ err: error }, "verify could not check a credential; answering 401");
  }
  c.header("WWW-Authenticate", 'Bearer realm="chaoscypher"');
  return c.json({ error: "AUTH_REQUIRED", message: "authentication required" }, 401);
}
