import { copyFileSync, existsSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import type { ServiceEvent } from "../../src/services/events/index.js";
import { type TestApp, useTestApps } from "../helpers/app.js";
import { insertNode, nodeTitles, withDb } from "../helpers/data.js";
import { backupDir, corrupt, createBackup, list, listSettled, sha256Of } from "./lifecycle-helpers.js";

describe("checksums and background verification", () => {
  const newApp = useTestApps();
  let t: TestApp;

  it("returns the SHA-256 of the written bytes and verifies the backup in the background", async () => {
    t = newApp();
    const events: ServiceEvent[] = [];
    t.services.events.on((e) => events.push(e));
    await withDb(t.services, "default", (db) => insertNode(db, "checked"));
    const created = await createBackup(t);
    const file = path.join(backupDir(t), created.filename);
    expect(created.sha256).toBe(sha256Of(file));

    const [listed] = await listSettled(t);
    expect(listed).toMatchObject({
      filename: created.filename,
      kind: "backup",
      sha256: created.sha256,
      offsite: { state: "disabled" },
      verification: { state: "ok" },
    });
    expect(Date.parse(listed?.verification.at ?? "")).not.toBeNaN();
    expect(events).toContainEqual(
      expect.objectContaining({ type: "operation.finished", operation: "verification", outcome: "ok" }),
    );
  });

  it("finds a backup corrupted on disk with verify (200, failed) and refuses to restore it", async () => {
    t = newApp();
    await withDb(t.services, "default", (db) => insertNode(db, "before"));
    const { filename, sha256 } = await createBackup(t);
    await t.services.verifications.idle();
    await withDb(t.services, "default", (db) => insertNode(db, "after"));
    corrupt(path.join(backupDir(t), filename));

    const verify = await t.request(`/api/v1/backup/${filename}/verify`, { method: "POST" });
    expect(verify.status).toBe(200);
    const result = (await verify.json()) as { filename: string; sha256: string; verification: { state: string } };
    expect(result).toMatchObject({ filename, sha256, verification: { state: "failed" } });
    expect((await list(t))[0]?.verification).toMatchObject({
      state: "failed",
      error: expect.stringMatching(/checksum/),
    });

    const restore = await t.request(`/api/v1/backup/${filename}/restore`, { method: "POST" });
    expect(restore.status).toBe(422);
    expect(await restore.json()).toMatchObject({ error: "INVALID_BACKUP", details: { reason: "verification_failed" } });
    const forced = await t.request(`/api/v1/backup/${filename}/restore?force=true`, { method: "POST" });
    expect(forced.status).toBe(422);
    expect(await forced.json()).toMatchObject({ error: "INVALID_BACKUP", details: { reason: "checksum_mismatch" } });
    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["before", "after"]);
    const dbDir = path.join(t.dataDir, "databases", "default");
    expect(readdirSync(dbDir).filter((f) => f.includes("restore"))).toEqual([]);
  });

  it("restores an intact backup after checking its checksum", async () => {
    t = newApp();
    await withDb(t.services, "default", (db) => insertNode(db, "kept"));
    const { filename } = await createBackup(t);
    await withDb(t.services, "default", (db) => insertNode(db, "later"));
    const restore = await t.request(`/api/v1/backup/${filename}/restore`, { method: "POST" });
    expect(restore.status).toBe(200);
    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["kept"]);
  });

  it("hashes and verifies a file copied in by hand the first time it is listed", async () => {
    t = newApp();
    const { filename } = await createBackup(t);
    const good = "app_20200101_000000.db";
    const bad = "app_20200102_000000.db";
    copyFileSync(path.join(backupDir(t), filename), path.join(backupDir(t), good));
    copyFileSync(path.join(backupDir(t), filename), path.join(backupDir(t), bad));
    corrupt(path.join(backupDir(t), bad));

    const first = await list(t);
    const seen = first.find((b) => b.filename === good);
    expect(seen?.verification.state).toBe("pending");
    expect(seen?.sha256 === null || seen?.sha256 === sha256Of(path.join(backupDir(t), good))).toBe(true);

    await t.services.verifications.idle();
    const settled = await list(t);
    expect(settled.find((b) => b.filename === good)).toMatchObject({
      sha256: sha256Of(path.join(backupDir(t), good)),
      verification: { state: "ok" },
    });
    expect(settled.find((b) => b.filename === bad)?.verification.state).toBe("failed");
  });

  it("forgets a backup deleted from outside, records included", async () => {
    t = newApp();
    const { filename } = await createBackup(t);
    await listSettled(t);
    rmSync(path.join(backupDir(t), filename));
    expect(await list(t)).toEqual([]);
    expect(readdirSync(backupDir(t))).toEqual([]);
  });

  it("removes the record with the backup on delete", async () => {
    t = newApp();
    const { filename } = await createBackup(t);
    await t.services.verifications.idle();
    expect((await t.request(`/api/v1/backup/${filename}`, { method: "DELETE" })).status).toBe(204);
    expect(readdirSync(backupDir(t))).toEqual([]);
  });

  it("verifies after a restart what was still pending when the server stopped", async () => {
    t = newApp();
    await t.services.verifications.stop();
    const { filename } = await createBackup(t);
    expect((await list(t))[0]?.verification.state).toBe("pending");
    await t.close();

    const again = newApp({ dataDir: t.dataDir });
    await again.services.verifications.idle();
    const [listed] = await list(again);
    expect(listed).toMatchObject({ filename, verification: { state: "ok" } });
  });

  it("sends Repr-Digest and a strong ETag with a download, and 304 for a matching If-None-Match", async () => {
    t = newApp();
    const { filename, sha256 } = await createBackup(t);
    const res = await t.request(`/api/v1/backup/${filename}/download`);
    expect(res.status).toBe(200);
    expect(res.headers.get("repr-digest")).toBe(`sha-256=:${Buffer.from(sha256, "hex").toString("base64")}:`);
    expect(res.headers.get("etag")).toBe(`"${sha256}"`);
    await res.arrayBuffer();

    const cached = await t.request(`/api/v1/backup/${filename}/download`, {
      headers: { "if-none-match": `"${sha256}"` },
    });
    expect(cached.status).toBe(304);
    expect(cached.headers.get("etag")).toBe(`"${sha256}"`);
    const other = await t.request(`/api/v1/backup/${filename}/download`, { headers: { "if-none-match": '"abc"' } });
    expect(other.status).toBe(200);
    await other.arrayBuffer();
  });

  it("answers verify of a missing backup with 404 and of a bad name with 400", async () => {
    t = newApp();
    expect((await t.request("/api/v1/backup/app_20200101_000000.db/verify", { method: "POST" })).status).toBe(404);
    const bad = await t.request("/api/v1/backup/notes.txt/verify", { method: "POST" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe("VALIDATION_ERROR");
  });

  it("verifies through tRPC", async () => {
    t = newApp();
    const { filename, sha256 } = await createBackup(t);
    const result = await t.caller.backup.verify({ filename });
    expect(result).toMatchObject({ filename, sha256, verification: { state: "ok" } });
    await expect(t.caller.backup.verify({ filename: "app_20200101_000000.db" })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    expect(existsSync(path.join(backupDir(t), `.${filename}.json`))).toBe(true);
  });
});

describe("one verification at a time per machine", () => {
  const newApp = useTestApps();

  it("waits while another process holds the verification lock, then runs", async () => {
    const t = newApp();
    const { filename } = await createBackup(t);
    await t.services.verifications.idle();
    // This connection plays another process (the CLI) in the middle of its own verification.
    const other = new Database(path.join(t.dataDir, ".verification.lock"));
    other.exec("BEGIN EXCLUSIVE");
    let settled = false;
    const verify = t.caller.backup.verify({ filename }).finally(() => {
      settled = true;
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(settled).toBe(false);
    } finally {
      other.exec("COMMIT");
      other.close();
    }
    expect(await verify).toMatchObject({ filename, verification: { state: "ok" } });
  });
});
