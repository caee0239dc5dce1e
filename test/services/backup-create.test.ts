import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { type TestApp, useTestApps } from "../helpers/app.js";
import { insertNode, withDb } from "../helpers/data.js";

describe("creating and listing backups", () => {
  const newApp = useTestApps();
  let t: TestApp;

  it("writes a consistent compacted copy named by UTC time, newest first in the list", async () => {
    t = newApp();
    await withDb(t.services, "default", (db) => insertNode(db, "first note"));
    const res = await t.request("/api/v1/backup", { method: "POST" });
    expect(res.status).toBe(200);
    const created = (await res.json()) as { database: string; filename: string; size: number; created_at: string };
    expect(created.database).toBe("default");
    expect(created.filename).toMatch(/^app_\d{8}_\d{6}(_\d+)?\.db$/);
    expect(created.created_at).toMatch(/^\d{8}_\d{6}$/);
    const file = path.join(t.dataDir, "backups", "default", created.filename);
    const copy = new Database(file, { readonly: true });
    expect(copy.pragma("integrity_check", { simple: true })).toBe("ok");
    expect(copy.prepare("SELECT title FROM nodes").pluck().all()).toEqual(["first note"]);
    expect(copy.pragma("journal_mode", { simple: true })).toBe("delete");
    copy.close();

    const second = (await (await t.request("/api/v1/backup", { method: "POST" })).json()) as { filename: string };
    const list = (await (await t.request("/api/v1/backup")).json()) as { backups: { filename: string }[] };
    expect(list.backups.map((b) => b.filename)).toEqual(
      [created.filename, second.filename].sort((a, b) => (a < b ? 1 : -1)),
    );
  });

  it("names a second backup in the same second with _1, _2", async () => {
    const fixed = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    t = newApp({ services: { now: () => fixed } });
    const names: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.request("/api/v1/backup", { method: "POST" });
      names.push(((await res.json()) as { filename: string }).filename);
    }
    expect(names).toEqual(["app_20260102_030405.db", "app_20260102_030405_1.db", "app_20260102_030405_2.db"]);
    const list = (await (await t.request("/api/v1/backup")).json()) as {
      backups: { filename: string; created_at: string; kind: string }[];
    };
    expect(list.backups.map((b) => b.filename)).toEqual([...names].reverse());
    expect(list.backups.every((b) => b.created_at === "20260102_030405" && b.kind === "backup")).toBe(true);
  });

  it("refuses a second backup of the same database while one runs (409) and allows it after", async () => {
    t = newApp();
    const [a, b] = await Promise.all([
      t.request("/api/v1/backup", { method: "POST" }),
      t.request("/api/v1/backup", { method: "POST" }),
    ]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 409]);
    const refused = a.status === 409 ? a : b;
    expect(await refused.json()).toMatchObject({ error: "OPERATION_IN_PROGRESS" });
    expect((await t.request("/api/v1/backup", { method: "POST" })).status).toBe(200);
  });

  it("refuses with 507 when free space is below the database size plus the margin, writing nothing", async () => {
    t = newApp({ config: { backupFreeMarginBytes: Number.MAX_SAFE_INTEGER } });
    const res = await t.request("/api/v1/backup", { method: "POST" });
    expect(res.status).toBe(507);
    expect(await res.json()).toMatchObject({ error: "INSUFFICIENT_STORAGE" });
    expect(readdirSync(path.join(t.dataDir, "backups", "default"))).toEqual([]);
  });

  it("lists only finished backups and survives files removed behind its back", async () => {
    t = newApp();
    const dir = path.join(t.dataDir, "backups", "default");
    const created = (await (await t.request("/api/v1/backup", { method: "POST" })).json()) as { filename: string };
    writeFileSync(path.join(dir, ".app_20260101_000000.db.tmp-abcd1234"), "partial");
    writeFileSync(path.join(dir, "notes.txt"), "not a backup");
    const gone = (await (await t.request("/api/v1/backup", { method: "POST" })).json()) as { filename: string };
    rmSync(path.join(dir, gone.filename));
    const res = await t.request("/api/v1/backup");
    expect(res.status).toBe(200);
    const list = (await res.json()) as { backups: { filename: string }[] };
    expect(list.backups.map((b) => b.filename)).toEqual([created.filename]);
  });

  it("removes leftovers of an interrupted backup on the next start", async () => {
    t = newApp();
    const dir = path.join(t.dataDir, "backups", "default");
    const temp = path.join(dir, ".app_20260101_000000.db.tmp-abcd1234");
    writeFileSync(temp, "partial");
    writeFileSync(`${temp}-journal`, "journal");
    await t.close();
    t = newApp({ dataDir: t.dataDir });
    expect(existsSync(temp)).toBe(false);
    expect(existsSync(`${temp}-journal`)).toBe(false);
  });

  it("acts on another database with ?database= and 404s an unknown one", async () => {
    t = newApp();
    await t.request("/api/v1/databases", { method: "POST", body: JSON.stringify({ name: "research" }) });
    const res = await t.request("/api/v1/backup?database=research", { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ database: "research" });
    expect(readdirSync(path.join(t.dataDir, "backups", "research")).filter((f) => !f.startsWith("."))).toHaveLength(1);
    expect(readdirSync(path.join(t.dataDir, "backups", "default"))).toHaveLength(0);
    const missing = await t.request("/api/v1/backup?database=nope", { method: "POST" });
    expect(missing.status).toBe(404);
    const bad = await t.request("/api/v1/backup?database=..%2Fetc");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: "VALIDATION_ERROR" });
  });
});
