import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { importBackup } from "../../src/services/backup/index.js";
import { startBackupLifecycle } from "../../src/services/backup/lifecycle.js";
import { removeUploadLeftovers } from "../../src/services/backup/upload.js";
import { UPLOAD_LOCK_FILE } from "../../src/services/backup/upload-lock.js";
import { makeTempDir, removeDir, useTestApps } from "../helpers/app.js";
import { seedDatabaseFile } from "../helpers/seed.js";
import { backupDir, listSettled, sha256Of } from "./lifecycle-helpers.js";

const sideFiles = (dir: string) => readdirSync(dir).filter((f) => /-(wal|shm|journal)$/.test(f));

describe("nothing left beside backups, nothing committed left behind", () => {
  const newApp = useTestApps();
  const scratch: string[] = [];
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill("SIGKILL");
    for (const dir of scratch.splice(0)) removeDir(dir);
  });
  const tempDir = () => {
    const dir = makeTempDir("cc-leftovers-");
    scratch.push(dir);
    return dir;
  };

  it("imports a WAL-mode file with the committed transactions still in its -wal", async () => {
    const t = newApp();
    const source = path.join(tempDir(), "live.db");
    seedDatabaseFile(source, { titles: ["seeded"] });
    // A live writer: 1,000 rows committed, all still in the -wal (no checkpoint while it is open).
    const writer = new Database(source);
    try {
      writer.pragma("wal_autocheckpoint = 0");
      writer.exec("CREATE TABLE ledger (n INTEGER PRIMARY KEY, note TEXT)");
      const insert = writer.prepare("INSERT INTO ledger (note) VALUES (?)");
      writer.transaction(() => {
        for (let i = 0; i < 1000; i++) insert.run("x".repeat(3000));
      })();
      expect(readFileSync(`${source}-wal`).length).toBeGreaterThan(3 * 1024 * 1024);

      const imported = await importBackup(t.services, "default", source);
      const copy = new Database(path.join(backupDir(t), imported.filename), { readonly: true });
      try {
        expect(copy.prepare("SELECT count(*) AS n FROM ledger").get()).toEqual({ n: 1000 });
      } finally {
        copy.close();
      }
    } finally {
      writer.close();
    }
    expect(sideFiles(backupDir(t))).toEqual([]);
  });

  it("leaves no -wal or -shm beside an uploaded WAL-mode file, its temp or the accepted upload", async () => {
    const t = newApp();
    const source = path.join(tempDir(), "wal-mode.db");
    seedDatabaseFile(source, { titles: ["uploaded"], wal: true });
    expect(readFileSync(source)[18]).toBe(2);
    const res = await t.request("/api/v1/backup/upload", { method: "POST", body: readFileSync(source) });
    expect(res.status).toBe(201);
    const { filename } = (await res.json()) as { filename: string };
    const [listed] = await listSettled(t);
    expect(listed).toMatchObject({ filename, verification: { state: "ok" }, sha256: sha256Of(source) });
    expect(readdirSync(backupDir(t)).filter((f) => !f.startsWith(`.${filename}`))).toEqual([filename]);
  });

  it("sweeps a crashed scheduled backup's temps at start, and -wal/-shm an older check left beside a backup", async () => {
    const t = newApp();
    const dir = backupDir(t);
    mkdirSync(dir, { recursive: true });
    // And an incremental copy's manifest temps, left by a process that is gone (off-site copies are not configured).
    const deadPid = spawnSync(process.execPath, ["-e", ""]).pid as number;
    for (const name of [
      ".auto_20200101_000000.db.tmp-0a1b2c3d",
      ".auto_20200101_000000.db.tmp-0a1b2c3d-journal",
      `.auto_20200101_000000.db.pages.tmp-${deadPid}-0a1b2c3d`,
      `.auto_20200101_000000.db.pages-body.tmp-${deadPid}-0a1b2c3d`,
    ]) {
      writeFileSync(path.join(dir, name), "partial");
    }
    const backup = path.join(dir, "upload_20200101_000000.db");
    seedDatabaseFile(backup, { titles: ["kept"], wal: true });
    const before = sha256Of(backup);
    const reader = new Database(backup, { readonly: true });
    reader.prepare("SELECT count(*) FROM nodes").get();
    reader.close();
    expect(
      sideFiles(dir)
        .filter((f) => f.startsWith("upload_"))
        .sort(),
    ).toEqual(["upload_20200101_000000.db-shm", "upload_20200101_000000.db-wal"]);
    await t.close();

    const again = newApp({ dataDir: t.dataDir });
    await startBackupLifecycle(again.services);
    expect(readdirSync(dir).filter((f) => !f.startsWith(".upload_"))).toEqual(["upload_20200101_000000.db"]);
    expect(sha256Of(backup)).toBe(before);
  });

  it("sweeps an upload temp at start only once no live process is writing it", async () => {
    const t = newApp();
    const dir = backupDir(t);
    mkdirSync(dir, { recursive: true });
    const temp = path.join(dir, ".upload.tmp-00aa11bb22cc");
    // Another process (a CLI `backup import`) in the middle of its copy: it holds the uploads lock.
    const lockFile = path.join(t.dataDir, "databases", "default", UPLOAD_LOCK_FILE);
    const holder = spawn(
      process.execPath,
      [
        "-e",
        `const D = require("better-sqlite3"); const db = new D(${JSON.stringify(lockFile)});
         db.exec("BEGIN"); db.prepare("SELECT count(*) FROM sqlite_master").get();
         require("fs").writeFileSync(${JSON.stringify(temp)}, "half an import");
         console.log("ready"); setInterval(() => {}, 1000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    children.push(holder);
    await once(holder.stdout as NodeJS.ReadableStream, "data");

    await removeUploadLeftovers(t.services, "default");
    expect(existsSync(temp)).toBe(true);

    holder.kill("SIGKILL");
    await once(holder, "exit");
    await removeUploadLeftovers(t.services, "default");
    expect(existsSync(temp)).toBe(false);
  });
});
