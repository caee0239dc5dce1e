import type { Handler } from "hono";
import { authenticate } from "../services/auth/index.js";
import type { ServiceDeps } from "../services/deps.js";
import { isCredential, readCredentials } from "./auth/credentials.js";
import type { AppEnv } from "./env.js";

const UNAUTHORIZED_BODY = JSON.stringify({ error: "AUTH_REQUIRED", message: "authentication required" });

/**
 * nginx's auth_request target: 204 + X-Auth-User for a valid cookie or API key, 401 for anything
 * else, including failures (a gate that timed out during a restore). Never another status: nginx
 * turns those into a 500. Read-only: a primary-key lookup and a hash compare.
 *
 * nginx calls it before every request, so it runs ahead of the request-id and logging middleware and
 * answers with a plain Response (no Hono header object to build), and logs only at debug level.
 */
export function verifyHandler(services: ServiceDeps): Handler<AppEnv> {
  const { logger } = services;
  return async (c) => {
    const started = performance.now();
    let response: Response;
    try {
      const presented = readCredentials(c.req.raw.headers);
      const result = isCredential(presented) ? await authenticate(services, presented, { touch: false }) : null;
      response = result ? allowed(result.identity.username, result.identity.via) : refused();
    } catch (error) {
      logger.warn({ err: error }, "verify could not check a credential; answering 401");
      response = refused();
    }
    if (logger.isLevelEnabled("debug")) {
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      logger.debug({ method: c.req.method, path: "/verify", status: response.status, durationMs }, "request");
    }
    return response;
  };
}

function allowed(username: string, via: string): Response {
  return new Response(null, {
    status: 204,
    headers: { "cache-control": "no-store", "x-auth-user": username, "x-auth-via": via },
  });
}

function refused(): Response {
  return new Response(UNAUTHORIZED_BODY, {
    status: 401,
    headers: {
      "cache-control": "no-store",
      "content-type": "application/json",
      "www-authenticate": 'Bearer realm="chaoscypher"',
    },
  });
}
