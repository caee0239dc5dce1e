import { copyFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type TestApp, useTestApps } from "../helpers/app.js";
import { badBackups } from "../helpers/bad-backups.js";
import { insertNode, nodeTitles, withDb } from "../helpers/data.js";

describe("restoring a file that is not a good backup", () => {
  const newApp = useTestApps();
  let t: TestApp;

  it.each(badBackups)("refuses %s with 422 and changes nothing on disk", async (_label, spoil) => {
    t = newApp();
    await withDb(t.services, "default", (db) => insertNode(db, "live data"));
    const res = await t.request("/api/v1/backup", { method: "POST" });
    const { filename } = (await res.json()) as { filename: string };
    const dbDir = path.join(t.dataDir, "databases", "default");
    const backupFile = path.join(t.dataDir, "backups", "default", filename);
    const bad = path.join(t.dataDir, "backups", "default", "app_20200101_000000.db");
    copyFileSync(backupFile, bad);
    spoil(bad);
    const filesBefore = readdirSync(dbDir).sort();

    const restore = await t.request("/api/v1/backup/app_20200101_000000.db/restore", { method: "POST" });
    expect(restore.status).toBe(422);
    const body = (await restore.json()) as { error: string; message: string };
    expect(body.error).toBe("INVALID_BACKUP");
    expect(body.message.length).toBeGreaterThan(5);

    expect(readdirSync(dbDir).sort()).toEqual(filesBefore);
    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["live data"]);
  });
});
