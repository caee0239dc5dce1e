import { copyFileSync, readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { type TestApp, useTestApps } from "../helpers/app.js";
import { insertNode, nodeTitles, withDb } from "../helpers/data.js";

type Spoiler = (file: string, t: TestApp) => void;

const cases: [string, Spoiler][] = [
  ["a text file", (file) => writeFileSync(file, "hello, not a database\n".repeat(100))],
  ["a truncated database", (file) => truncateSync(file, 6000)],
  [
    "a database with corrupted pages",
    (file) => {
      const bytes = readFileSync(file);
      for (let i = 4096 + 100; i < bytes.length; i += 97) bytes[i] = 0xff;
      writeFileSync(file, bytes);
    },
  ],
  [
    "a SQLite file that is not an app database",
    (file) => {
      writeFileSync(file, "");
      const other = new Database(file);
      other.exec("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)");
      other.close();
    },
  ],
  [
    "a backup from a newer build",
    (file) => {
      const db = new Database(file);
      db.prepare("INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('future', ?)").run(Date.now() * 10);
      db.close();
    },
  ],
];

describe("restoring a file that is not a good backup", () => {
  const newApp = useTestApps();
  let t: TestApp;

  it.each(cases)("refuses %s with 422 and changes nothing on disk", async (_label, spoil) => {
    t = newApp();
    await withDb(t.services, "default", (db) => insertNode(db, "live data"));
    const res = await t.request("/api/v1/backup", { method: "POST" });
    const { filename } = (await res.json()) as { filename: string };
    const dbDir = path.join(t.dataDir, "databases", "default");
    const backupFile = path.join(t.dataDir, "backups", "default", filename);
    const bad = path.join(t.dataDir, "backups", "default", "app_20200101_000000.db");
    copyFileSync(backupFile, bad);
    spoil(bad, t);
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
