import { mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.js";
import { LOCK_FILE } from "../../src/services/locks.js";
import { createTestApp, makeTempDir } from "../helpers/app.js";
import { FIRST, seedDatabase, titles } from "../helpers/seed.js";
import { fillDisk, mountTmpfs, unmount } from "../helpers/tmpfs.js";

const mountPoint = makeTempDir("cc-full-");
const unmountable = mountTmpfs(mountPoint);
if (unmountable) console.log(`disk-full tests skipped: ${unmountable}`);

describe.skipIf(unmountable !== null)(
  "a full disk answers 507, leaves nothing partial, and the server keeps serving",
  () => {
    const dataDir = path.join(mountPoint, "data");
    const logFile = path.join(mountPoint, "server.log");
    let t: ReturnType<typeof createTestApp>;
    const log = pino.destination({ dest: logFile, sync: true });
    beforeAll(() => {
      mkdirSync(dataDir);
      seedDatabase(dataDir, "notes", { upTo: FIRST, titles: ["old"] });
      t = createTestApp({
        dataDir,
        config: { backupFreeMarginBytes: 1 << 20 },
        services: { logger: createLogger("info", log) },
      });
    });
    afterAll(async () => {
      await t?.close();
      log.destroy();
      unmount(mountPoint);
      rmSync(mountPoint, { recursive: true, force: true });
    });

    const post = (url: string, body?: unknown) =>
      t.request(url, {
        method: body === undefined ? "POST" : "PATCH",
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    // Temp and staged files are hidden; the lock database is the one hidden file meant to stay.
    const hidden = (dir: string) => readdirSync(dir).filter((n) => n.startsWith(".") && n !== LOCK_FILE);

    it("backup, restore, migration and the settings file each answer 507; freed, each succeeds", async () => {
      expect((await t.request("/api/v1/databases")).status).toBe(200); // signs in before the disk fills
      const { filename } = await t.caller.backup.create();
      const before = titles(t.services.paths.dbFile("default"));
      const backupsBefore = readdirSync(t.services.paths.backupDir("default")).sort();
      const notesBackups = readdirSync(t.services.paths.backupDir("notes")).sort();
      const dbDirBefore = readdirSync(t.services.paths.dbDir("default")).sort();
      const filler = fillDisk(mountPoint);

      const refused = {
        backup: await post("/api/v1/backup"),
        restore: await post(`/api/v1/backup/${filename}/restore`),
        migrate: await post("/api/v1/upgrade/apply?database=notes"),
        settings: await post("/api/v1/databases/current", { name: "notes" }),
      };
      for (const [what, response] of Object.entries(refused)) {
        expect({ what, status: response.status }).toEqual({ what, status: 507 });
        expect(await response.json()).toMatchObject({ error: "INSUFFICIENT_STORAGE" });
      }
      expect((await t.app.request("/api/v1/health")).status).toBe(200);
      expect(readdirSync(t.services.paths.backupDir("default")).sort()).toEqual(backupsBefore);
      expect(readdirSync(t.services.paths.backupDir("notes")).sort()).toEqual(notesBackups);
      expect(readdirSync(t.services.paths.dbDir("default")).sort()).toEqual(dbDirBefore);
      expect(hidden(t.services.paths.dbDir("notes"))).toEqual([]);
      expect(t.services.settings.current).toBe("default");

      rmSync(filler); // (reading a WAL database needs a little space for its index)
      expect(titles(t.services.paths.dbFile("default"))).toEqual(before);
      expect(titles(t.services.paths.dbFile("notes"))).toEqual(["old"]);
      expect((await post("/api/v1/backup")).status).toBe(200);
      expect((await post(`/api/v1/backup/${filename}/restore`)).status).toBe(200);
      expect((await post("/api/v1/upgrade/apply?database=notes")).status).toBe(200);
      expect((await post("/api/v1/databases/current", { name: "notes" })).status).toBe(200);
    }, 120_000);

    it("a log that cannot be written never turns a request into a 500", async () => {
      const filler = fillDisk(mountPoint);
      try {
        expect((await t.app.request("/api/v1/health")).status).toBe(200);
        expect((await t.request("/api/v1/databases")).status).toBe(200);
        expect((await t.app.request("/api/v1/auth/login", { method: "POST", body: "{}" })).status).toBe(400);
      } finally {
        rmSync(filler);
      }
    });
  },
);
