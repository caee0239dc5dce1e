import { authenticate } from "../services/auth/index.js";
import type { ServiceDeps } from "../services/deps.js";
import { isCredential, readCredentials } from "./auth/credentials.js";

const UNAUTHORIZED_BODY = JSON.stringify({ error: "AUTH_REQUIRED", message: "authentication required" });

/**
 * nginx's auth_request target: 204 + X-Auth-User for a valid cookie or API key, 401 for anything
 * else, including failures (a gate that timed out during a restore). Never another status: nginx
 * turns those into a 500. Read-only: a primary-key lookup and a hash compare.
 *
 * nginx calls it before every request, so `withVerify` answers it ahead of Hono's router and middleware
 * with a plain Response, and it logs only at debug level.
 */
export function verifyRequest(services: ServiceDeps): (request: Request) => Promise<Response> {
  const { logger } = services;
  return async (request) => {
    const started = performance.now();
    let response: Response;
    try {
      const presented = readCredentials(request.headers);
      const result = isCredential(presented) ? await authenticate(services, presented, { touch: false }) : null;
      response = result && "identity" in result ? allowed(result.identity.username, result.identity.via) : refused();
    } catch (error) {
      logger.warn({ err: error }, "verify could not check a credential; answering 401");
      response = refused();
    }
    if (logger.isLevelEnabled("debug")) {
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      logger.debug({ method: request.method, path: "/verify", status: response.status, durationMs }, "request");
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

/**
 * Serves `/verify` (exactly, any query) before the app: matched by Hono, it went through the router and
 * the compose chain of every global middleware, a third of its CPU per request (bench: /verify throughput).
 */
export function withVerify<F extends (request: Request, ...rest: never[]) => Response | Promise<Response>>(
  services: ServiceDeps,
  fetch: F,
): F {
  const verify = verifyRequest(services);
  return ((request: Request, ...rest: never[]) =>
    isVerifyUrl(request.url) ? verify(request) : fetch(request, ...rest)) as F;
}

function isVerifyUrl(url: string): boolean {
  const path = url.indexOf("/", url.indexOf("//") + 2);
  if (path === -1 || !url.startsWith("/verify", path)) return false;
  const end = path + "/verify".length;
  return url.length === end || url[end] === "?";
}
