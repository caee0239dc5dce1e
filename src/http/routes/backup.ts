import { Readable } from "node:stream";
import { z } from "zod";
import {
  createBackup,
  deleteBackup,
  listBackups,
  openBackupDownload,
  receiveUpload,
  restoreBackup,
  verifyBackup,
} from "../../services/backup/index.js";
import { resolveDatabase } from "../../services/databases/index.js";
import { deleteBackupEverywhere } from "../../services/offsite/index.js";
import { errorResponses, header, jsonResponse } from "../openapi/responses.js";
import { apiRouter, defineRoute } from "../openapi/router.js";
import {
  BackupCreated,
  BackupFile,
  BackupList,
  BackupUploaded,
  RestoreResult,
  UploadQuery,
  VerifyResult,
} from "../schemas/backup.js";
import { BackupFilenameParam, DatabaseQuery } from "../schemas/common.js";
import { DeleteQuery } from "../schemas/offsite.js";

/** `force=true` restores a backup whose last verification failed (refused with 422 otherwise). */
const RestoreQuery = DatabaseQuery.extend({
  force: z.enum(["true", "false"]).optional().meta({
    description:
      "`true`: restore even though the backup's last verification failed (else 422, `details.reason: verification_failed`).",
  }),
});

import { declaredLength, digestHeaders, matchesEtag, requestBodyStream } from "./backup-headers.js";

const tags = ["Backups"];
const DIGEST =
  "`sha-256=:<base64>:` (RFC 9530) of the checksum recorded when the backup was written; absent only for a file copied in by hand and not hashed yet.";
const ETAG = "A strong ETag, the backup's SHA-256 in hex; absent only while the checksum is unknown (see Repr-Digest).";

const create = defineRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Back up a database now (a compacted copy; writers keep writing)",
  request: { query: DatabaseQuery },
  responses: {
    // 200, not 201: clients of the original Chaos Cypher count only 200 as success (and retry otherwise).
    200: jsonResponse(BackupCreated, "The backup is written and durable (200, as the original service answers)."),
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
        "Repr-Digest": header(DIGEST, { required: false }),
        ETag: header(ETAG, { required: false }),
      },
      content: { "application/vnd.sqlite3": { schema: BackupFile } },
    },
    304: {
      description: "`If-None-Match` named this backup's ETag: the client already has these bytes.",
      headers: { "Repr-Digest": header(DIGEST), ETag: header(ETAG) },
    },
    ...errorResponses(400, 401, 404, 409, 503),
  },
});

const upload = defineRoute({
  method: "post",
  path: "/upload",
  tags,
  summary: "Upload a backup (raw body, streamed; validated like a restore, then kept as upload_…)",
  description:
    "`curl --data-binary @app.db -H 'Content-Type: application/vnd.sqlite3'`. Bodies over " +
    "`CHAOSCYPHER_UPLOAD_MAX_BYTES` are refused (413) as soon as that is known; a refused or interrupted " +
    "upload leaves no file.",
  request: {
    query: UploadQuery,
    body: {
      required: true,
      content: {
        "application/vnd.sqlite3": { schema: BackupFile },
        "application/octet-stream": { schema: BackupFile },
      },
    },
  },
  responses: {
    201: jsonResponse(BackupUploaded, "Validated, checksummed and stored; verified in the background next."),
    ...errorResponses(400, 401, 403, 404, 413, 422, 503, 507),
  },
});

const verify = defineRoute({
  method: "post",
  path: "/{filename}/verify",
  tags,
  summary: "Verify a backup now: checksum re-read and full integrity_check",
  request: { params: BackupFilenameParam, query: DatabaseQuery },
  responses: {
    200: jsonResponse(VerifyResult, "The result; a changed or corrupt file is `state: failed` in a 200."),
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

const restore = defineRoute({
  method: "post",
  path: "/{filename}/restore",
  tags,
  summary:
    "Restore a database from a backup (the current file is kept as a safety copy); a backup whose last verification failed only with `force=true`",
  request: { params: BackupFilenameParam, query: RestoreQuery },
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
    return c.json(created, 200);
  })
  .openapi(list, async (c) => {
    const deps = c.get("services");
    return c.json(await listBackups(deps, resolveDatabase(deps, c.req.valid("query").database)), 200);
  })
  .openapi(download, async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.valid("query").database);
    const file = await openBackupDownload(deps, database, c.req.valid("param").filename);
    const digest = digestHeaders(file.sha256);
    if (matchesEtag(c.req.header("if-none-match"), file.sha256)) {
      file.stream.destroy();
      return new Response(null, { status: 304, headers: { ...digest, "Cache-Control": "no-store" } });
    }
    return new Response(Readable.toWeb(file.stream) as ReadableStream, {
      headers: {
        "Content-Type": "application/vnd.sqlite3",
        "Content-Length": String(file.size),
        "Content-Disposition": `attachment; filename="${file.filename}"`,
        "Cache-Control": "no-store",
        ...digest,
      },
    });
  })
  // Exempt from the app's JSON body limit (app.ts): the body is the backup, streamed to disk.
  .openapi(upload, async (c) => {
    const deps = c.get("services");
    const query = c.req.valid("query");
    const database = resolveDatabase(deps, query.database);
    const length = declaredLength(c.req.header("content-length"));
    const origin = { name: query.name, modifiedAt: query.modified_at };
    return c.json(await receiveUpload(deps, database, requestBodyStream(c), length, origin), 201);
  })
  .openapi(verify, async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.valid("query").database);
    return c.json(await verifyBackup(deps, database, c.req.valid("param").filename), 200);
  })
  .openapi(restore, async (c) => {
    const deps = c.get("services");
    const query = c.req.valid("query");
    const database = resolveDatabase(deps, query.database);
    const force = query.force === "true";
    return c.json(await restoreBackup(deps, database, c.req.valid("param").filename, { force }), 200);
  })
  .openapi(remove, async (c) => {
    const deps = c.get("services");
    const query = c.req.valid("query");
    const remove = query.offsite === "true" ? deleteBackupEverywhere : deleteBackup;
    await remove(deps, resolveDatabase(deps, query.database), c.req.valid("param").filename);
    return c.body(null, 204);
  });
