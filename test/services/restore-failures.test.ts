import { existsSync, readdirSync } from "node:fs";
import { rename } from "node:fs/promises";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openSqlite } from "../../src/db/connection.js";
import { type TestApp, useTestApps } from "../helpers/app.js";
import { insertNode, nodeTitles, withDb } from "../helpers/data.js";

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
    let calls = 0;
    t = newApp({
      services: {
        fileOps: {
          rename: async (from, to) => {
            calls++;
            if (calls === 2) throw Object.assign(new Error("injected rename failure"), { code: "EIO" });
            await rename(from, to);
          },
        },
      },
    });
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
    const first = t.services.migrations[0];
    if (!first) throw new Error("no migrations");
    const old = new Database(file);
    old.exec(
      "CREATE TABLE __drizzle_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, hash text NOT NULL, created_at numeric)",
    );
    for (const statement of first.statements) old.exec(statement);
    old.prepare("INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)").run(first.hash, first.when);
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
