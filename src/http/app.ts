import { trpcServer } from "@hono/trpc-server";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { PayloadTooLargeError } from "../errors.js";
import type { ServiceDeps } from "../services/deps.js";
import { createContextInner } from "../trpc/context.js";
import { appRouter } from "../trpc/router.js";
import { createApiRoutes } from "./api.js";
import { authGate } from "./auth/gate.js";
import type { AppEnv } from "./env.js";
import { errorResponse } from "./errors.js";
import { API_BASE } from "./openapi/document.js";
import { requestLog } from "./request-log.js";
import { webUi } from "./static.js";
import { verifyHandler } from "./verify.js";

const MAX_JSON_BODY = 64 * 1024;
/** Its body is a backup streamed to disk, limited by CHAOSCYPHER_UPLOAD_MAX_BYTES in the service instead. */
const UPLOAD_ROUTE = "/api/v1/backup/upload";

export function createApp(services: ServiceDeps) {
  const app = new Hono<AppEnv>();
  // First of all: nginx calls /verify before every request, and it answers 204 or 401 and nothing else.
  app.all("/verify", verifyHandler(services));
  app.use(async (c, next) => {
    c.set("services", services);
    await next();
  });
  app.use(requestId());
  app.use(requestLog(services.logger));
  const jsonBodyLimit = bodyLimit({
    maxSize: MAX_JSON_BODY,
    onError: () => {
      throw new PayloadTooLargeError(`request bodies are limited to ${MAX_JSON_BODY} bytes`);
    },
  });
  app.use((c, next) => (c.req.method === "POST" && c.req.path === UPLOAD_ROUTE ? next() : jsonBodyLimit(c, next)));
  app.use(authGate());

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
  return app;
}

export type App = ReturnType<typeof createApp>;
