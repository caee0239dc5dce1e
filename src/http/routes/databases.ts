import { createDatabase, listDatabases, setCurrentDatabase } from "../../services/databases/index.js";
import { errorResponses, jsonBody, jsonResponse } from "../openapi/responses.js";
import { apiRouter, defineRoute } from "../openapi/router.js";
import { CurrentDatabase, DatabaseCreated, DatabaseList, DatabaseNameRequest } from "../schemas/databases.js";

const tags = ["Databases"];

const list = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List the databases and the current one",
  responses: { 200: jsonResponse(DatabaseList, "The databases."), ...errorResponses(401, 409, 503) },
});

const create = defineRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Create and migrate an empty database",
  request: { body: jsonBody(DatabaseNameRequest) },
  responses: {
    201: jsonResponse(DatabaseCreated, "Created."),
    ...errorResponses(400, 401, 403, 409, 413, 503, 507),
  },
});

const setCurrent = defineRoute({
  method: "patch",
  path: "/current",
  tags,
  summary: "Switch the database that calls act on by default",
  request: { body: jsonBody(DatabaseNameRequest) },
  responses: {
    200: jsonResponse(CurrentDatabase, "Switched."),
    ...errorResponses(400, 401, 403, 404, 409, 413, 503, 507),
  },
});

export const databaseRoutes = apiRouter()
  .openapi(list, (c) => c.json(listDatabases(c.get("services")), 200))
  .openapi(create, (c) => c.json(createDatabase(c.get("services"), c.req.valid("json").name), 201))
  .openapi(setCurrent, async (c) => c.json(await setCurrentDatabase(c.get("services"), c.req.valid("json").name), 200));
