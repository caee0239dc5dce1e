import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openSqlite } from "../../src/db/connection.js";
import { type TestApp, useTestApps } from "../helpers/app.js";
import { insertVectors } from "../helpers/data.js";

describe("backup of a database that is being written", () => {
  const newApp = useTestApps();
  let t: TestApp;

  it("holds every row committed before it started while a writer keeps committing without errors", async () => {
    t = newApp();
    const writer = openSqlite(path.join(t.dataDir, "databases", "default", "app.db"));
    const insert = writer.prepare("INSERT INTO nodes (title, body) VALUES (?, ?)");
    const filler = "x".repeat(2000);
    writer.transaction(() => {
      for (let i = 0; i < 5000; i++) insert.run(`seed ${i}`, filler);
    })();
    insertVectors(writer, [1, 2, 3]);

    let committed = 5000;
    const errors: unknown[] = [];
    let writing = true;
    const loop = (async () => {
      while (writing) {
        try {
          insert.run(`live ${committed}`, filler);
          committed++;
        } catch (error) {
          errors.push(error);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();

    const committedBefore = committed;
    const res = await t.request("/api/v1/backup", { method: "POST" });
    const writtenDuring = committed - committedBefore;
    writing = false;
    await loop;
    writer.close();

    expect(res.status).toBe(200);
    expect(errors).toEqual([]);
    expect(writtenDuring).toBeGreaterThan(0);
    const { filename } = (await res.json()) as { filename: string };
    const copy = new Database(path.join(t.dataDir, "backups", "default", filename), { readonly: true });
    expect(copy.pragma("integrity_check", { simple: true })).toBe("ok");
    const rows = copy.prepare("SELECT count(*) FROM nodes").pluck().get() as number;
    expect(rows).toBeGreaterThanOrEqual(committedBefore);
    expect(rows).toBeLessThanOrEqual(committed);
    copy.close();
  });
});
