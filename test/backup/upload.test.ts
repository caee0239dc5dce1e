import { copyFileSync, readdirSync, readFileSync } from "node:fs";
import { request } from "node:http";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import type { ServiceEvent } from "../../src/services/events/index.js";
import { makeTempDir, removeDir, type TestApp, useTestApps } from "../helpers/app.js";
import { badBackups } from "../helpers/bad-backups.js";
import { capturingLogger } from "../helpers/logs.js";
import { seedDatabaseFile } from "../helpers/seed.js";
import { type Listening, listen } from "../helpers/server.js";
import { backupDir, corrupt, listSettled, sha256Of, visibleFiles } from "./lifecycle-helpers.js";

const sqliteType = { "content-type": "application/vnd.sqlite3" };

/** A backup-shaped app database with `rows` nodes of 1 KiB titles (about rows KiB). */
function goodBackupFile(dir: string, rows = 50): string {
  const file = path.join(dir, `source-${rows}.db`);
  const titles = Array.from({ length: rows }, (_, i) => `${i}`.padEnd(1024, "x"));
  seedDatabaseFile(file, { titles, wal: false });
  return file;
}

/** A body that produces `total` bytes lazily, so no test holds it in memory. */
function streamOf(total: number, chunk = 256 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const size = Math.min(chunk, total - sent);
      sent += size;
      controller.enqueue(new Uint8Array(size));
    },
  });
}

describe("uploading a backup", () => {
  const newApp = useTestApps();
  const scratch: string[] = [];
  let t: TestApp;
  afterEach(() => {
    for (const dir of scratch.splice(0)) removeDir(dir);
  });
  const tempDir = () => {
    const dir = makeTempDir("cc-upload-src-");
    scratch.push(dir);
    return dir;
  };

  it("stores a good backup as upload_… with its checksum, listed and verified", async () => {
    t = newApp();
    const source = goodBackupFile(tempDir());
    const res = await t.request("/api/v1/backup/upload", {
      method: "POST",
      headers: sqliteType,
      body: readFileSync(source),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ database: "default", kind: "uploaded", sha256: sha256Of(source) });
    expect(body.filename).toMatch(/^upload_\d{8}_\d{6}\.db$/);
    expect(body.size).toBe(readFileSync(source).length);
    expect(visibleFiles(backupDir(t))).toEqual([body.filename]);
    const [listed] = await listSettled(t);
    expect(listed).toMatchObject({ filename: body.filename, kind: "uploaded", verification: { state: "ok" } });
  });

  it("takes ?database= and answers 404 for an unknown one", async () => {
    t = newApp();
    await t.request("/api/v1/databases", {
      method: "POST",
      body: JSON.stringify({ name: "notes" }),
      headers: { "content-type": "application/json" },
    });
    const source = goodBackupFile(tempDir());
    const res = await t.request("/api/v1/backup/upload?database=notes", { method: "POST", body: readFileSync(source) });
    expect(res.status).toBe(201);
    expect(visibleFiles(backupDir(t, "notes"))).toHaveLength(1);
    const missing = await t.request("/api/v1/backup/upload?database=nope", {
      method: "POST",
      body: readFileSync(source),
    });
    expect(missing.status).toBe(404);
  });

  it.each(badBackups)("refuses %s with 422 and keeps nothing", async (_label, spoil) => {
    t = newApp();
    const source = goodBackupFile(tempDir());
    spoil(source);
    const res = await t.request("/api/v1/backup/upload", { method: "POST", body: readFileSync(source) });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { error: string; details: { reason: string } };
    expect(body.error).toBe("INVALID_BACKUP");
    expect(readdirSync(backupDir(t))).toEqual([]);
  });

  it("answers 413 from Content-Length alone and when a stream without one passes the limit", async () => {
    t = newApp({ config: { uploadMaxBytes: 100_000 } });
    const declared = await t.request("/api/v1/backup/upload", {
      method: "POST",
      headers: { "content-length": "100001" },
      body: streamOf(100_001),
      duplex: "half",
    } as RequestInit);
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as { error: string }).error).toBe("PAYLOAD_TOO_LARGE");
    const streamed = await t.request("/api/v1/backup/upload", {
      method: "POST",
      body: streamOf(1_000_000),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(readdirSync(backupDir(t))).toEqual([]);
  });

  it("leaves nothing behind when the client disconnects mid-upload, and logs it as no failure of ours", async () => {
    const { logger, lines } = capturingLogger("info");
    t = newApp({ services: { logger } });
    const events: ServiceEvent[] = [];
    t.services.events.on((e) => events.push(e));
    const server: Listening = await listen(t.app.fetch);
    try {
      const key = (await t.setupOperator()).key;
      const aborted = new Promise<void>((resolve) => {
        const req = request(`${server.url}/api/v1/backup/upload`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-length": String(10 * 1024 * 1024) },
        });
        req.on("error", () => resolve());
        req.write(Buffer.alloc(1024 * 1024), () => {
          // The temp file exists once the first bytes are on disk; then the client goes away.
          const poll = setInterval(() => {
            if (readdirSync(backupDir(t)).length > 0) {
              clearInterval(poll);
              req.destroy();
            }
          }, 10);
        });
      });
      await aborted;
      await expect.poll(() => readdirSync(backupDir(t)), { timeout: 10_000 }).toEqual([]);
      await expect.poll(() => lines().some((l) => l.msg === "upload cancelled by the client")).toBe(true);
      // No 500, nothing at warn or above, no "upload failed" event (which would notify and raise the UI's banner).
      expect(lines().filter((l) => (l.level as number) >= 40)).toEqual([]);
      expect(lines().filter((l) => l.status === 500)).toEqual([]);
      expect(events.filter((e) => e.type === "backup.failed")).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it("keeps the right checksum for a larger upload that arrives in small pieces", async () => {
    t = newApp();
    const source = goodBackupFile(tempDir(), 1);
    const db = new Database(source);
    const insert = db.prepare("INSERT INTO nodes (title) VALUES (?)");
    db.transaction(() => {
      for (let i = 0; i < 2_000; i++) insert.run(`${i}`.padEnd(1024, "x"));
    })();
    db.close();
    const bytes = readFileSync(source);
    const server: Listening = await listen(t.app.fetch);
    try {
      const key = (await t.setupOperator()).key;
      // Sent 64 KiB at a time with pauses, so the file is written in many separate writes and batches.
      const body = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const req = request(
          `${server.url}/api/v1/backup/upload`,
          { method: "POST", headers: { authorization: `Bearer ${key}`, "content-length": String(bytes.length) } },
          (res) => {
            let text = "";
            res.on("data", (chunk) => {
              text += chunk;
            });
            res.on("end", () => resolve({ status: res.statusCode, ...JSON.parse(text) }));
          },
        );
        req.on("error", reject);
        const sendFrom = (offset: number) => {
          if (offset >= bytes.length) return req.end();
          req.write(bytes.subarray(offset, offset + 64 * 1024), () =>
            setTimeout(() => sendFrom(offset + 64 * 1024), 1),
          );
        };
        sendFrom(0);
      });
      expect(bytes.length).toBeGreaterThan(8 * 1024 * 1024);
      expect(body).toMatchObject({ status: 201, size: bytes.length, sha256: sha256Of(source) });
      const [listed] = await listSettled(t);
      expect(listed).toMatchObject({ filename: body.filename, verification: { state: "ok" } });
    } finally {
      await server.close();
    }
  });

  it("imports the same way from a local file (service verb used by the CLI)", async () => {
    t = newApp();
    const { importBackup } = await import("../../src/services/backup/index.js");
    const source = goodBackupFile(tempDir());
    const imported = await importBackup(t.services, "default", source);
    expect(imported).toMatchObject({ kind: "uploaded", sha256: sha256Of(source) });
    const bad = path.join(tempDir(), "bad.db");
    copyFileSync(source, bad);
    corrupt(bad);
    await expect(importBackup(t.services, "default", bad)).rejects.toMatchObject({ code: "INVALID_BACKUP" });
    expect(visibleFiles(backupDir(t))).toEqual([imported.filename]);
  });
});
