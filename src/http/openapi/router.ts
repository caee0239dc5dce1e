import { createRoute, type Hook, OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { z } from "zod";
import { ValidationError } from "../../errors.js";
import type { AppEnv } from "../env.js";

/** A request that misses its route's schema: the spec's 400 body, through the one error mapper (src/http/errors.ts). */
export function validationError(error: z.ZodError, target?: string): ValidationError {
  const issues = error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
  return new ValidationError(issues[0]?.message ?? "invalid request", target ? { in: target, issues } : { issues });
}

// biome-ignore lint/suspicious/noExplicitAny: the hook serves every route, whatever its input types.
const refuseInvalid: Hook<any, AppEnv, any, any> = (result) => {
  if (!result.success) throw validationError(result.error, result.target);
};

/** The router every REST route file starts from: its routes are validated by, and documented from, their schemas. */
export function apiRouter() {
  return new OpenAPIHono<AppEnv>({ defaultHook: refuseInvalid });
}

const JSON_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;

/**
 * JSON bodies are read as JSON whatever their Content-Type says, as they always were: `curl -d '{...}'`
 * labels them form data, and scripts written against the README do that.
 */
const readBodyAsJson: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!JSON_TYPE.test(c.req.header("content-type") ?? "")) {
    const headers = new Headers(c.req.raw.headers);
    headers.set("content-type", "application/json");
    c.req.raw = new Request(c.req.raw, { headers });
  }
  await next();
};

/** `createRoute`, plus what every route of this service shares: a JSON body is read as JSON whatever its label. */
export function defineRoute<const R extends RouteConfig>(config: R) {
  const route = createRoute(config);
  const content = config.request?.body?.content;
  if (!content?.["application/json"]) return route;
  const own = config.middleware === undefined ? [] : [config.middleware].flat();
  return Object.assign(route, { middleware: [...own, readBodyAsJson] });
}
