import type { Handler, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { Metrics } from "../services/observability/metrics.js";
import { surfaceOf } from "./auth/public-routes.js";
import type { AppEnv } from "./env.js";

/**
 * The route label: the pattern of the handler that answered (`/api/v1/backup/:filename/restore`), never the
 * raw URL, so label values stay few. A middleware's answer (a refusal at the gate, a static file, a 404)
 * is labelled by surface.
 */
function routeLabel(c: Parameters<MiddlewareHandler<AppEnv>>[0]): string {
  const pattern = routePath(c);
  if (pattern !== "" && pattern !== "*" && pattern !== "/*") return pattern;
  const surface = surfaceOf(c.req.path);
  return surface === "ui" ? "ui" : `/${surface}/*`;
}

/** Counts and times every request by method, route pattern and status. */
export function httpMetrics(metrics: Metrics): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const labels = { method: c.req.method, route: routeLabel(c), status: String(c.res.status) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, (performance.now() - started) / 1000);
    }
  };
}

/** GET /metrics: Prometheus text format, behind the same auth as the API (an API key as Bearer works). */
export function metricsHandler(metrics: Metrics): Handler<AppEnv> {
  return async (c) => {
    const { contentType, body } = await metrics.render();
    return c.body(body, 200, { "content-type": contentType, "cache-control": "no-store" });
  };
}
