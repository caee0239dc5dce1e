import { resolveDatabase } from "../../services/databases/index.js";
import { fetchCopy, listRemoteCopies, pushCopies } from "../../services/offsite/index.js";
import { errorResponses, jsonResponse } from "../openapi/responses.js";
import { apiRouter, defineRoute } from "../openapi/router.js";
import { BackupFilenameParam, DatabaseQuery } from "../schemas/common.js";
import { FetchedBackup, FetchQuery, ListQuery, PushResult, RemoteList } from "../schemas/offsite.js";

const tags = ["Off-site copies"];

const list = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List a database's copies in the bucket (also those this host lacks)",
  description: "Read from the store, not from local records: a new host after a disaster sees every copy.",
  request: { query: ListQuery },
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
    "the identity cannot decrypt it, it cannot be authenticated (`details.reason` `unauthenticated`, `unknown_key`, " +
    "`mac_mismatch`; `accept_unauthenticated=true` keeps it anyway), its SHA-256 does not match the recorded one, or it is not a usable app " +
    "database; 503 when the store cannot be reached. Nothing is kept unless every check passed. With `uploads=true` " +
    "the uploads of the copy's manifest come back into `databases/<db>/uploads/` too, each checked against its " +
    "SHA-256 (404 when the copy has no manifest; for a backup already here, only the uploads); a local file with " +
    "other bytes is kept and listed in `uploads.conflicts`; missing or damaged blobs give 422 " +
    "`uploads_incomplete` naming each, after the others were restored.",
  request: { params: BackupFilenameParam, query: FetchQuery },
  responses: {
    201: jsonResponse(FetchedBackup, "Stored in `backups/<db>/` under its own name."),
    ...errorResponses(400, 401, 403, 404, 409, 422, 503, 507),
  },
});

/** The remote side of off-site copies. */
export const offsiteRoutes = apiRouter()
  .openapi(list, async (c) => {
    const deps = c.get("services");
    const query = c.req.valid("query");
    return c.json(await listRemoteCopies(deps, query.database ?? deps.settings.current, query), 200);
  })
  .openapi(push, async (c) => {
    const deps = c.get("services");
    return c.json(await pushCopies(deps, resolveDatabase(deps, c.req.valid("query").database)), 202);
  })
  .openapi(fetch, async (c) => {
    const deps = c.get("services");
    const query = c.req.valid("query");
    const database = resolveDatabase(deps, query.database);
    const options = {
      install: query.install,
      acceptUnauthenticated: query.accept_unauthenticated === "true",
      uploads: query.uploads === "true",
    };
    return c.json(await fetchCopy(deps, database, c.req.valid("param").filename, options), 201);
  });
