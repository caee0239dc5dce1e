import type { MiddlewareHandler } from "hono";
import type { Logger } from "../logger.js";
import type { AppEnv } from "./env.js";

/** One child logger per request, carrying its id; one line when it ends. Headers are never logged. */
export function requestLog(logger: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const log = logger.child({ requestId: c.get("requestId") });
    c.set("log", log);
    await next();
    const durationMs = Math.round((performance.now() - started) * 10) / 10;
    const entry = { method: c.req.method, path: c.req.path, status: c.res.status, durationMs };
    if (c.req.path === "/api/v1/health") log.debug(entry, "request");
    else if (c.res.status >= 500) log.warn(entry, "request");
    else log.info(entry, "request");
  };
}
