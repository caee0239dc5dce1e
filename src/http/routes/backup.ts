import { Readable } from "node:stream";
import {
  createBackup,
  deleteBackup,
  listBackups,
  openBackupDownload,
  restoreBackup,
} from "../../services/backup/index.js";
import { resolveDatabase } from "../../services/databases/index.js";
import { deleteBackupEverywhere } from "../../services/offsite/index.js";
import { errorResponses, header, jsonResponse } from "../openapi/responses.js";
import { apiRouter, defineRoute } from "../openapi/router.js";
import { BackupCreated, BackupFile, BackupList, RestoreResult } from "../schemas/backup.js";
import { BackupFilenameParam, DatabaseQuery } from "../schemas/common.js";
import { DeleteQuery } from "../schemas/offsite.js";

const tags = ["Backups"];

const create = defineRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Back up a database now (a compacted copy; writers keep writing)",
  request: { query: DatabaseQuery },
  responses: {
    201: jsonResponse(BackupCreated, "The backup is written and durable."),
    ...errorResponses(400, 401, 403, 404, 409, 503, 507),
  },
});

const list = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List a database's backups, newest first",
  request: { query: DatabaseQuery },
  responses: { 200: jsonResponse(BackupList, "The backups."), ...errorResponses(400, 401, 404, 409, 503) },
});

const download = defineRoute({
  method: "get",
  path: "/{filename}/download",
  tags,
  summary: "Download a backup's bytes (streamed)",
  request: { params: BackupFilenameParam, query: DatabaseQuery },
  responses: {
    200: {
      description: "The backup file.",
      headers: {
        "Content-Disposition": header('`attachment; filename="<filename>"`.'),
        "Content-Length": header("The file's size in bytes.", { type: "integer" }),
        "Repr-Digest": header("`sha-256=:<base64>:` (RFC 9530), once backups carry checksums (SPEC §8).", {
          required: false,
        }),
        ETag: header("A strong ETag from the backup's SHA-256, once backups carry checksums (SPEC §8).", {
          required: false,
        }),
      },
      content: { "application/vnd.sqlite3": { schema: BackupFile } },
    },
    ...errorResponses(400, 401, 404, 409, 503),
  },
});

const restore = defineRoute({
  method: "post",
  path: "/{filename}/restore",
  tags,
  summary: "Restore a database from a backup (the current file is kept as a safety copy)",
  request: { params: BackupFilenameParam, query: DatabaseQuery },
  responses: {
    200: jsonResponse(RestoreResult, "Restored; the database now serves the backup's data."),
    ...errorResponses(400, 401, 403, 404, 409, 422, 503, 507),
  },
});

const remove = defineRoute({
  method: "delete",
  path: "/{filename}",
  tags,
  summary: "Delete a backup file (and with `offsite=true` its off-site copy too)",
  request: { params: BackupFilenameParam, query: DeleteQuery },
  responses: { 204: { description: "Deleted." }, ...errorResponses(400, 401, 403, 404, 409, 503) },
});

export const backupRoutes = apiRouter()
  .openapi(create, async (c) => {
    const deps = c.get("services");
    const created = await createBackup(deps, resolveDatabase(deps, c.req.valid("query").database));
    return c.json(created, 201);
  })
  .openapi(list, async (c) => {
    const deps = c.get("services");
    return c.json(await listBackups(deps, resolveDatabase(deps, c.req.valid("query").database)), 200);
  })
  .openapi(download, async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.valid("query").database);
    const file = await openBackupDownload(deps, database, c.req.valid("param").filename);
    return new Response(Readable.toWeb(file.stream) as ReadableStream, {
      headers: {
        "Content-Type": "application/vnd.sqlite3",
        "Content-Length": String(file.size),
        "Content-Disposition": `attachment; filename="${file.filename}"`,
        "Cache-Control": "no-store",
      },
    });
  })
  .openapi(restore, async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.valid("query").database);
    return c.json(await restoreBackup(deps, database, c.req.valid("param").filename), 200);
  })
  .openapi(remove, async (c) => {
    const deps = c.get("services");
    const query = c.req.valid("query");
    const remove = query.offsite === "true" ? deleteBackupEverywhere : deleteBackup;
    await remove(deps, resolveDatabase(deps, query.database), c.req.valid("param").filename);
    return c.body(null, 204);
  });
