import type { Context, MiddlewareHandler } from "hono";
import { AuthRequiredError, ForbiddenError } from "../../errors.js";
import { SESSION_COOKIE, sessionCookie } from "../../lib/session-cookie.js";
import { allows, authenticate, type Identity, outOfScope } from "../../services/auth/index.js";
import type { AppEnv } from "../env.js";
import { clientInfo } from "./client-info.js";
import { isCredential, readCredentials } from "./credentials.js";
import { crossSiteReason } from "./cross-site.js";
import { deny } from "./deny.js";
import { isPublicRequest, surfaceOf } from "./public-routes.js";
import { restScopeFor } from "./route-scopes.js";

/**
 * The one place requests are authenticated, REST and tRPC alike: resolves the cookie or API key,
 * refuses anonymous requests to anything but the public routes, and refuses cross-site state
 * changes made with a cookie. An X-Auth-User header is never read.
 */
export function authGate(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const deps = c.get("services");
    const client = clientInfo(c, deps.config.trustedProxies);
    c.set("client", client);
    const presented = readCredentials(c.req.raw.headers);
    const checked = isCredential(presented) ? await authenticate(deps, presented, { touch: true }) : null;
    const result = checked && "identity" in checked ? checked : null;
    c.set("identity", result?.identity ?? null);
    const isPublic = isPublicRequest(c.req.path, c.req.url);
    if (!result && !isPublic) {
      const expired = checked && "expiredAt" in checked ? checked.expiredAt : null;
      return deny(c, expired ? expiredKey(expired) : authRequired(c.req.raw.headers));
    }
    if (presented.kind !== "api_key") {
      const reason = crossSiteReason(c.req.method, c.req.url, c.req.raw.headers);
      if (reason) {
        c.get("log").warn({ reason, path: c.req.path }, "cross-site request refused");
        return deny(c, new ForbiddenError("cross-site requests are refused"));
      }
    }
    // tRPC checks each procedure's scope itself (src/trpc/init.ts); REST routes are checked here.
    if (result && !isPublic && surfaceOf(c.req.path) === "api") {
      const needed = restScopeFor(c.req.method, c.req.path);
      if (!allows(result.identity.scope, needed)) {
        return deny(c, outOfScope(result.identity.scope, needed, `${c.req.method} ${c.req.path}`));
      }
    }
    await next();
    // A sliding renewal resends the cookie, unless the handler set or cleared it itself.
    const renewed = result?.renewedSession;
    const handlerSetCookie = c.res.headers.getSetCookie().some((v) => v.startsWith(`${SESSION_COOKIE}=`));
    if (renewed && !handlerSetCookie) {
      c.header("Set-Cookie", sessionCookie(renewed, deps.now(), client.secure), { append: true });
    }
  };
}

const BASIC = /^basic\s/i;

/** Someone trying Basic auth learns what the API takes instead. */
function authRequired(headers: Headers): AuthRequiredError {
  if (!BASIC.test(headers.get("authorization") ?? "")) return new AuthRequiredError();
  return new AuthRequiredError(
    "HTTP Basic auth is not accepted: send Authorization: Bearer cc_live_… (an API key) or the session cookie",
  );
}

function expiredKey(at: string): AuthRequiredError {
  return new AuthRequiredError(`this API key expired at ${at}; mint a new one (chaoscypher keys create)`);
}

/** The identity a protected handler runs for; the gate already refused anonymous requests. */
export function requireIdentity(c: Context<AppEnv>): Identity {
  const identity = c.get("identity");
  if (!identity) throw new AuthRequiredError();
  return identity;
}
