import { trpcServer } from "@hono/trpc-server";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { PayloadTooLargeError } from "../errors.js";
import type { ServiceDeps } from "../services/deps.js";
import { Metrics } from "../services/observability/metrics.js";
import { createContextInner } from "../trpc/context.js";
import { appRouter } from "../trpc/router.js";
import { createApiRoutes } from "./api.js";
import { authGate } from "./auth/gate.js";
import type { AppEnv } from "./env.js";
import { errorResponse } from "./errors.js";
import { httpMetrics, metricsHandler } from "./metrics.js";
import { API_BASE } from "./openapi/document.js";
import { requestLog } from "./request-log.js";
import { webUi } from "./static.js";
import { withVerify } from "./verify.js";

const MAX_JSON_BODY = 64 * 1024;
/** Its body is a backup streamed to disk, limited by CHAOSCYPHER_UPLOAD_MAX_BYTES in the service instead. */
const UPLOAD_ROUTE = "/api/v1/backup/upload";

export interface AppOptions {
  /** The server passes its own; a test app gets a fresh one. */
  metrics?: Metrics;
}

export function createApp(services: ServiceDeps, options: AppOptions = {}) {
  const metrics = options.metrics ?? new Metrics(services);
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("services", services);
    await next();
  });
  app.use(requestId());
  app.use(requestLog(services.logger));
  app.use(httpMetrics(metrics));
  const jsonBodyLimit = bodyLimit({
    maxSize: MAX_JSON_BODY,
    onError: () => {
      throw new PayloadTooLargeError(`request bodies are limited to ${MAX_JSON_BODY} bytes`);
    },
  });
  app.use((c, next) => (c.req.method === "POST" && c.req.path === UPLOAD_ROUTE ? next() : jsonBodyLimit(c, next)));
  app.use(authGate());
  app.get("/metrics", metricsHandler(metrics));

  app.route(API_BASE, createApiRoutes());

  app.use(
    "/trpc/*",
    trpcServer({
      endpoint: "/trpc",
      router: appRouter,
      createContext: (opts, c) => ({
        ...createContextInner(services, c.get("log"), {
          identity: c.get("identity"),
          client: c.get("client"),
          resHeaders: opts.resHeaders,
        }),
      }),
    }),
  );

  app.use(webUi(services.config.webDir));

  app.notFound((c) => c.json({ error: "NOT_FOUND", message: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => errorResponse(error, c, c.get("log") ?? services.logger));
  // First of all: nginx calls /verify before every request, and it answers 204 or 401 and nothing else.
  app.fetch = withVerify(services, app.fetch);
  return app;
}

export type App = ReturnType<typeof createApp>;
