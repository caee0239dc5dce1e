import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openSqlite } from "../../src/db/connection.js";
import { type TestApp, useTestApps } from "../helpers/app.js";
import { insertNode, nodeTitles, withDb } from "../helpers/data.js";
import { failingRename } from "../helpers/faults.js";
import { FIRST, seedDatabaseFile } from "../helpers/seed.js";

describe("a restore that fails half-way", () => {
  const newApp = useTestApps();
  let t: TestApp;

  const dbDir = () => path.join(t.dataDir, "databases", "default");

  async function prepare(): Promise<string> {
    await withDb(t.services, "default", (db) => insertNode(db, "old"));
    const { filename } = await t.caller.backup.create();
    await withDb(t.services, "default", (db) => insertNode(db, "newest write"));
    return filename;
  }

  it("puts the previous database back when renaming the staged file fails", async () => {
    t = newApp({ services: { fileOps: failingRename(1) } });
    const filename = await prepare();
    const res = await t.request(`/api/v1/backup/${filename}/restore`, { method: "POST" });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: "INTERNAL_ERROR", message: "internal error" });
    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["old", "newest write"]);
    expect(readdirSync(dbDir()).filter((f) => f.startsWith(".app.db.restore-") || f === "restore.intent")).toEqual([]);
    expect((await t.request("/api/v1/backup")).status).toBe(200);
  });

  it("refuses a backup whose migration to this build fails before the live database is touched", async () => {
    t = newApp();
    await withDb(t.services, "default", (db) => insertNode(db, "current"));
    // Passes validation, but its pending vector migration fails: the table name is already taken.
    const file = path.join(t.dataDir, "backups", "default", "app_20250101_000000.db");
    seedDatabaseFile(file, { upTo: FIRST, wal: false });
    const old = new Database(file);
    old.exec("CREATE TABLE chunk_embeddings (chunk_id INTEGER PRIMARY KEY, embedding BLOB)");
    old.close();

    const res = await t.request("/api/v1/backup/app_20250101_000000.db/restore", { method: "POST" });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ error: "INVALID_BACKUP", details: { reason: "open_failed" } });
    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["current"]);
    expect(
      readdirSync(dbDir()).filter((f) => f.startsWith("app.db.") || f.startsWith(".app.db.") || f.endsWith(".intent")),
    ).toEqual([]);
  });

  it("puts the previous database back when a step after the reopen fails", async () => {
    t = newApp();
    const filename = await prepare();
    t.services.restoreHooks = [
      {
        afterOpen: async () => {
          throw new Error("injected failure after the reopen");
        },
      },
    ];
    const res = await t.request(`/api/v1/backup/${filename}/restore`, { method: "POST" });
    expect(res.status).toBe(500);
    t.services.restoreHooks = [];
    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["old", "newest write"]);
    expect(existsSync(path.join(dbDir(), "restore.intent"))).toBe(false);
  });

  it("keeps aside, never replays elsewhere, what another connection wrote to the restored file before a rollback", async () => {
    t = newApp();
    const filename = await prepare();
    let stray: Database.Database | null = null;
    t.services.restoreHooks = [
      {
        afterOpen: async () => {
          stray = openSqlite(path.join(dbDir(), "app.db"));
          stray.exec("CREATE TABLE elsewhere (x); INSERT INTO elsewhere VALUES ('written to the restored file')");
          throw new Error("injected failure after the reopen");
        },
      },
    ];
    const res = await t.request(`/api/v1/backup/${filename}/restore`, { method: "POST" });
    (stray as Database.Database | null)?.close();
    expect(res.status).toBe(500);
    t.services.restoreHooks = [];
    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["old", "newest write"]);
    const aside = readdirSync(dbDir()).filter((f) => f.startsWith(".app.db.rejected-") && !f.endsWith("-wal"));
    expect(aside).toHaveLength(1);
    const rejected = new Database(path.join(dbDir(), aside[0] ?? ""));
    expect(rejected.prepare("SELECT x FROM elsewhere").pluck().all()).toEqual(["written to the restored file"]);
    rejected.close();
  });

  it("waits out another process's transaction on the restored file instead of rolling back what it committed", async () => {
    t = newApp();
    const filename = await prepare();
    let stray: Database.Database | null = null;
    t.services.restoreHooks = [
      {
        // The app's writer opens the restored file right after the rename and holds a write transaction on it
        // while the credentials reset (a write) runs on the service's connection, which never waits for a lock.
        afterOpen: async (_deps, _database, db) => {
          if (!stray) {
            const other = openSqlite(path.join(dbDir(), "app.db"));
            other.exec(
              "BEGIN IMMEDIATE; CREATE TABLE elsewhere (x); INSERT INTO elsewhere VALUES ('committed elsewhere')",
            );
            setTimeout(() => other.exec("COMMIT"), 150);
            stray = other;
          }
          db.$client.exec("CREATE TABLE IF NOT EXISTS hook_wrote (x)");
        },
      },
    ];
    const res = await t.request(`/api/v1/backup/${filename}/restore`, { method: "POST" });
    (stray as Database.Database | null)?.close();
    expect(res.status).toBe(200);
    t.services.restoreHooks = [];
    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["old"]);
    const restored = new Database(path.join(dbDir(), "app.db"), { readonly: true });
    expect(restored.prepare("SELECT x FROM elsewhere").pluck().all()).toEqual(["committed elsewhere"]);
    expect(restored.prepare("SELECT count(*) FROM hook_wrote").pluck().get()).toBe(0);
    restored.close();
    expect(readdirSync(dbDir()).filter((f) => f.startsWith(".app.db.rejected-"))).toEqual([]);
  });

  it("refuses with 409 while another process holds the database open, changing nothing", async () => {
    t = newApp();
    const filename = await prepare();
    const other = openSqlite(path.join(dbDir(), "app.db"));
    other.prepare("SELECT count(*) FROM nodes").get();
    const res = await t.request(`/api/v1/backup/${filename}/restore`, { method: "POST" });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: "OPERATION_IN_PROGRESS" });
    other.close();
    expect(existsSync(path.join(dbDir(), "app.db.pre_restore"))).toBe(false);
    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["old", "newest write"]);
    expect((await t.request(`/api/v1/backup/${filename}/restore`, { method: "POST" })).status).toBe(200);
  });
});
