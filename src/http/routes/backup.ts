import { Readable } from "node:stream";
import { Hono } from "hono";
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
import type { AppEnv } from "../env.js";
import { declaredLength, digestHeaders, matchesEtag, requestBodyStream } from "./backup-headers.js";

export const backupRoutes = new Hono<AppEnv>()
  .post("/", async (c) => {
    const deps = c.get("services");
    const created = await createBackup(deps, resolveDatabase(deps, c.req.query("database")));
    return c.json(created, 201);
  })
  .get("/", async (c) => {
    const deps = c.get("services");
    return c.json(await listBackups(deps, resolveDatabase(deps, c.req.query("database"))));
  })
  .get("/:filename/download", async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.query("database"));
    const download = await openBackupDownload(deps, database, c.req.param("filename"));
    const digest = digestHeaders(download.sha256);
    if (matchesEtag(c.req.header("if-none-match"), download.sha256)) {
      download.stream.destroy();
      return new Response(null, { status: 304, headers: { ...digest, "Cache-Control": "no-store" } });
    }
    return new Response(Readable.toWeb(download.stream) as ReadableStream, {
      headers: {
        "Content-Type": "application/vnd.sqlite3",
        "Content-Length": String(download.size),
        "Content-Disposition": `attachment; filename="${download.filename}"`,
        "Cache-Control": "no-store",
        ...digest,
      },
    });
  })
  // Exempt from the app's JSON body limit (see app.ts): the body is the backup, streamed to disk.
  .post("/upload", async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.query("database"));
    const length = declaredLength(c.req.header("content-length"));
    return c.json(await receiveUpload(deps, database, requestBodyStream(c), length), 201);
  })
  .post("/:filename/verify", async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.query("database"));
    return c.json(await verifyBackup(deps, database, c.req.param("filename")));
  })
  .post("/:filename/restore", async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.query("database"));
    return c.json(await restoreBackup(deps, database, c.req.param("filename")));
  })
  .delete("/:filename", async (c) => {
    const deps = c.get("services");
    await deleteBackup(deps, resolveDatabase(deps, c.req.query("database")), c.req.param("filename"));
    return c.body(null, 204);
  });
