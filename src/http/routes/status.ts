import { serviceStatus } from "../../services/status/index.js";
import { errorResponses, jsonResponse } from "../openapi/responses.js";
import { apiRouter, defineRoute } from "../openapi/router.js";
import { ServiceStatusSchema } from "../schemas/status.js";

const status = defineRoute({
  method: "get",
  path: "/",
  tags: ["Service"],
  summary: "Per-database state: backup freshness, schedule, off-site copies, last failure",
  responses: { 200: jsonResponse(ServiceStatusSchema, "The state of every database."), ...errorResponses(401) },
});

export const statusRoutes = apiRouter().openapi(status, async (c) =>
  c.json(await serviceStatus(c.get("services")), 200),
);
