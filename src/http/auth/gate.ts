import type { Context, MiddlewareHandler } from "hono";
import { AuthRequiredError, ForbiddenError } from "../../errors.js";
import { authenticate, type Identity } from "../../services/auth/index.js";
import type { AppEnv } from "../env.js";
import { clientInfo } from "./client-info.js";
import { isCredential, readCredentials } from "./credentials.js";
import { crossSiteReason } from "./cross-site.js";
import { deny } from "./deny.js";
import { isPublicRequest } from "./public-routes.js";
import { SESSION_COOKIE, sessionCookie } from "./session-cookie.js";

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
    const result = isCredential(presented) ? await authenticate(deps, presented, { touch: true }) : null;
    c.set("identity", result?.identity ?? null);
    if (!result && !isPublicRequest(c.req.path, c.req.url)) return deny(c, new AuthRequiredError());
    if (presented.kind !== "api_key") {
      const reason = crossSiteReason(c.req.method, c.req.url, c.req.raw.headers);
      if (reason) {
        c.get("log").warn({ reason, path: c.req.path }, "cross-site request refused");
        return deny(c, new ForbiddenError("cross-site requests are refused"));
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

/** The identity a protected handler runs for; the gate already refused anonymous requests. */
export function requireIdentity(c: Context<AppEnv>): Identity {
  const identity = c.get("identity");
  if (!identity) throw new AuthRequiredError();
  return identity;
}
