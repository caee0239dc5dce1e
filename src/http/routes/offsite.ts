import { resolveDatabase } from "../../services/databases/index.js";
import { fetchCopy, listRemoteCopies, pushCopies } from "../../services/offsite/index.js";
import { errorResponses, jsonResponse } from "../openapi/responses.js";
import { apiRouter, defineRoute } from "../openapi/router.js";
import { BackupFilenameParam, DatabaseQuery } from "../schemas/common.js";
import { FetchedBackup, PushResult, RemoteList } from "../schemas/offsite.js";

const tags = ["Off-site copies"];

const list = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List a database's copies in the bucket (also those this host lacks)",
  description: "Read from the store, not from local records: a new host after a disaster sees every copy.",
  request: { query: DatabaseQuery },
  responses: { 200: jsonResponse(RemoteList, "The remote copies."), ...errorResponses(400, 401, 409, 503) },
});

const push = defineRoute({
  method: "post",
  path: "/push",
  tags,
  summary: "Retry every copy that is not done, now",
  request: { query: DatabaseQuery },
  responses: {
    202: jsonResponse(PushResult, "Queued; the copies run in the background (see the backup list)."),
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

const fetch = defineRoute({
  method: "post",
  path: "/{filename}/fetch",
  tags,
  summary: "Download, decrypt, check and store one copy in the backups (then restore it as usual)",
  description:
    "409 without an identity file (CHAOSCYPHER_AGE_IDENTITY_FILE) or when the backup is already here; 422 when " +
    "the identity cannot decrypt it, its SHA-256 does not match the recorded one, or it is not a usable app " +
    "database; 503 when the store cannot be reached. Nothing is kept unless every check passed.",
  request: { params: BackupFilenameParam, query: DatabaseQuery },
  responses: {
    201: jsonResponse(FetchedBackup, "Stored in `backups/<db>/` under its own name."),
    ...errorResponses(400, 401, 403, 404, 409, 422, 503, 507),
  },
});

/** The remote side of off-site copies. */
export const offsiteRoutes = apiRouter()
  .openapi(list, async (c) => {
    const deps = c.get("services");
    return c.json(await listRemoteCopies(deps, c.req.valid("query").database ?? deps.settings.current), 200);
  })
  .openapi(push, async (c) => {
    const deps = c.get("services");
    return c.json(await pushCopies(deps, resolveDatabase(deps, c.req.valid("query").database)), 202);
  })
  .openapi(fetch, async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.valid("query").database);
    return c.json(await fetchCopy(deps, database, c.req.valid("param").filename), 201);
  });
