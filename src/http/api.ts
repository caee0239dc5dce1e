import { z } from "zod";
import { generateDocument, registerSecuritySchemes } from "./openapi/document.js";
import { errorResponses, jsonResponse, PUBLIC } from "./openapi/responses.js";
import { apiRouter, defineRoute } from "./openapi/router.js";
import { authRoutes } from "./routes/auth.js";
import { backupRoutes } from "./routes/backup.js";
import { databaseRoutes } from "./routes/databases.js";
import { docsRoutes } from "./routes/docs.js";
import { healthRoutes } from "./routes/health.js";
import { offsiteRoutes } from "./routes/offsite.js";
import { scheduleRoutes } from "./routes/schedule.js";
import { statusRoutes } from "./routes/status.js";
import { upgradeRoutes } from "./routes/upgrade.js";

const openapiJson = defineRoute({
  method: "get",
  path: "/openapi.json",
  tags: ["Service"],
  summary: "This document (OpenAPI 3.1)",
  security: PUBLIC,
  responses: {
    200: jsonResponse(z.looseObject({ openapi: z.string() }).meta({ id: "OpenAPIDocument" }), "The OpenAPI document."),
    ...errorResponses(),
  },
});

/** Every REST route, mounted at /api/v1; the routes are the document. */
export function createApiRoutes() {
  const api = apiRouter()
    .route("/health", healthRoutes)
    .route("/auth", authRoutes)
    .route("/backup", backupRoutes)
    .route("/databases", databaseRoutes)
    .route("/offsite", offsiteRoutes)
    .route("/schedule", scheduleRoutes)
    .route("/upgrade", upgradeRoutes)
    .route("/status", statusRoutes)
    .route("/docs", docsRoutes);
  registerSecuritySchemes(api);
  let document: ReturnType<typeof generateDocument> | undefined;
  api.openapi(openapiJson, (c) => {
    document ??= generateDocument(api);
    return c.json(document, 200);
  });
  return api;
}

/** The document, built without a server (tests, the typed client's generator). */
export function apiDocument() {
  return generateDocument(createApiRoutes());
}
