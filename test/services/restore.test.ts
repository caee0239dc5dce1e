import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type TestApp, useTestApps } from "../helpers/app.js";
import { insertNode, insertVectors, nearest, nodeTitles, withDb } from "../helpers/data.js";
import { FIRST, inspect, seedDatabaseFile, titles } from "../helpers/seed.js";

describe("restoring a backup", () => {
  const newApp = useTestApps();
  let t: TestApp;

  const dbDir = () => path.join(t.dataDir, "databases", "default");

  async function backup(): Promise<string> {
    const res = await t.request("/api/v1/backup", { method: "POST" });
    expect(res.status).toBe(200);
    return ((await res.json()) as { filename: string }).filename;
  }

  it("reverts the data, keeps the last write in app.db.pre_restore and leaves no stale WAL", async () => {
    t = newApp();
    await withDb(t.services, "default", (db) => insertNode(db, "kept"));
    const filename = await backup();
    await withDb(t.services, "default", (db) => insertNode(db, "written after the backup"));

    const res = await t.request(`/api/v1/backup/${filename}/restore`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      database: "default",
      restored_from: filename,
      safety_copy: "app.db.pre_restore",
    });

    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["kept"]);
    expect(titles(path.join(dbDir(), "app.db.pre_restore"))).toEqual(["kept", "written after the backup"]);
    expect(readdirSync(dbDir()).filter((f) => f.includes("restore-") || f.endsWith(".intent"))).toEqual([]);
    const after = await withDb(t.services, "default", (db) => db.$client.pragma("journal_mode", { simple: true }));
    expect(after).toBe("wal");
    expect((await t.request("/api/v1/health")).status).toBe(200);

    // A stale WAL from the old file would be replayed over the new one by the next connection.
    await t.close();
    const appDb = path.join(dbDir(), "app.db");
    expect(inspect(appDb, (s) => s.pragma("integrity_check", { simple: true }))).toBe("ok");
    expect(titles(appDb)).toEqual(["kept"]);
  });

  it("returns the same nearest neighbours from the vector index after the round trip", async () => {
    t = newApp();
    const ids = Array.from({ length: 200 }, (_, i) => i + 1);
    await withDb(t.services, "default", (db) => insertVectors(db.$client, ids));
    const before = await withDb(t.services, "default", (db) => nearest(db.$client, 42));
    const filename = await backup();
    await withDb(t.services, "default", (db) => db.$client.exec("DELETE FROM chunk_embeddings WHERE chunk_id > 10"));

    expect((await t.request(`/api/v1/backup/${filename}/restore`, { method: "POST" })).status).toBe(200);
    const after = await withDb(t.services, "default", (db) => nearest(db.$client, 42));
    expect(after).toEqual(before);
    expect(after[0]).toBe(42);
  });

  it("restores through tRPC, and leaves other databases alone", async () => {
    t = newApp();
    await t.caller.databases.create({ name: "other" });
    await withDb(t.services, "other", (db) => insertNode(db, "other data"));
    await withDb(t.services, "default", (db) => insertNode(db, "v1"));
    const { filename } = await t.caller.backup.create();
    await withDb(t.services, "default", (db) => insertNode(db, "v2"));
    const result = await t.caller.backup.restore({ filename });
    expect(result.restored_from).toBe(filename);
    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["v1"]);
    expect(await withDb(t.services, "other", nodeTitles)).toEqual(["other data"]);
  });

  it("migrates a restored backup that predates this build's schema", async () => {
    t = newApp();
    // An old build's backup: only the first migration applied.
    const dir = path.join(t.dataDir, "backups", "default");
    seedDatabaseFile(path.join(dir, "app_20250101_000000.db"), {
      upTo: FIRST,
      titles: ["from the old build"],
      wal: false,
    });

    expect((await t.request("/api/v1/backup/app_20250101_000000.db/restore", { method: "POST" })).status).toBe(200);
    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["from the old build"]);
    const vectors = await withDb(t.services, "default", (db) => {
      insertVectors(db.$client, [7]);
      return nearest(db.$client, 7, 1);
    });
    expect(vectors).toEqual([7]);
  });
});
