import { z } from "zod";
import { errorResponses, jsonResponse, PUBLIC } from "../openapi/responses.js";
import { apiRouter, defineRoute } from "../openapi/router.js";

const health = defineRoute({
  method: "get",
  path: "/",
  tags: ["Service"],
  summary: "Liveness: the service answers",
  security: PUBLIC,
  responses: {
    200: jsonResponse(z.object({ status: z.literal("ok") }).meta({ id: "Health" }), "The service is up."),
    ...errorResponses(),
  },
});

export const healthRoutes = apiRouter().openapi(health, (c) => c.json({ status: "ok" as const }, 200));
