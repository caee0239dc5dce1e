import { Readable } from "node:stream";
import { Hono } from "hono";
import {
  createBackup,
  deleteBackup,
  listBackups,
  openBackupDownload,
  restoreBackup,
} from "../../services/backup/index.js";
import { resolveDatabase } from "../../services/databases/index.js";
import { deleteBackupEverywhere } from "../../services/offsite/index.js";
import type { AppEnv } from "../env.js";

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
    return new Response(Readable.toWeb(download.stream) as ReadableStream, {
      headers: {
        "Content-Type": "application/vnd.sqlite3",
        "Content-Length": String(download.size),
        "Content-Disposition": `attachment; filename="${download.filename}"`,
        "Cache-Control": "no-store",
      },
    });
  })
  .post("/:filename/restore", async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.query("database"));
    return c.json(await restoreBackup(deps, database, c.req.param("filename")));
  })
  .delete("/:filename", async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.query("database"));
    const everywhere = c.req.query("offsite") === "true";
    await (everywhere ? deleteBackupEverywhere : deleteBackup)(deps, database, c.req.param("filename"));
    return c.body(null, 204);
  });
