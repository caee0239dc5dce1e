import type { OpenAPIHono } from "@hono/zod-openapi";
import { SESSION_COOKIE } from "../auth/session-cookie.js";
import type { AppEnv } from "../env.js";

export const API_BASE = "/api/v1";

type OpenApiDocument = ReturnType<OpenAPIHono<AppEnv>["getOpenAPI31Document"]>;

/** Declares the two ways to authenticate; a route without `security` needs one of them. */
export function registerSecuritySchemes(api: OpenAPIHono<AppEnv>): void {
  api.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "cc_live_…",
    description: "An API key minted with `POST /auth/keys`: `Authorization: Bearer cc_live_…`.",
  });
  api.openAPIRegistry.registerComponent("securitySchemes", "session", {
    type: "apiKey",
    in: "cookie",
    name: SESSION_COOKIE,
    description: "The session cookie set by `POST /auth/login` or `POST /auth/setup`.",
  });
}

/** The OpenAPI 3.1 document of `api`, generated from its route declarations (never written by hand). */
export function generateDocument(api: OpenAPIHono<AppEnv>): OpenApiDocument {
  return api.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "Chaos Cypher backup service",
      version: "1",
      description:
        "Back up, restore and migrate Chaos Cypher knowledge bases. Errors always have the body " +
        "`{error, message, details?}` with `error` from a closed set of codes.",
    },
    servers: [{ url: API_BASE }],
    security: [{ apiKey: [] }, { session: [] }],
  });
}
