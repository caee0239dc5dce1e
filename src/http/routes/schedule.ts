import { resolveDatabase } from "../../services/databases/index.js";
import { getSchedule, setSchedule } from "../../services/schedules/index.js";
import { errorResponses, jsonBody, jsonResponse } from "../openapi/responses.js";
import { apiRouter, defineRoute } from "../openapi/router.js";
import { DatabaseQuery } from "../schemas/common.js";
import { Schedule, ScheduleRequest } from "../schemas/schedule.js";

const tags = ["Schedules"];

const get = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "A database's backup schedule, its next run and the last run's outcome",
  request: { query: DatabaseQuery },
  responses: { 200: jsonResponse(Schedule, "The schedule."), ...errorResponses(400, 401, 404, 503) },
});

const put = defineRoute({
  method: "put",
  path: "/",
  tags,
  summary: "Replace a database's backup schedule and retention",
  request: { query: DatabaseQuery, body: jsonBody(ScheduleRequest) },
  responses: {
    200: jsonResponse(Schedule, "The schedule as stored, with its next run."),
    ...errorResponses(400, 401, 403, 404, 413, 503),
  },
});

export const scheduleRoutes = apiRouter()
  .openapi(get, async (c) => {
    const deps = c.get("services");
    return c.json(await getSchedule(deps, resolveDatabase(deps, c.req.valid("query").database)), 200);
  })
  .openapi(put, async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.valid("query").database);
    return c.json(await setSchedule(deps, database, c.req.valid("json")), 200);
  });
