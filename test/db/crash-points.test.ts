import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileOps, nodeFileOps } from "../../src/lib/durable-fs.js";
import { parseBackupName } from "../../src/services/backup/files.js";
import { createBackup } from "../../src/services/backup/index.js";
import { restoreBackup } from "../../src/services/backup/restore.js";
import { receiveUpload } from "../../src/services/backup/upload.js";
import type { ServiceDeps } from "../../src/services/deps.js";
import { createTestApp, makeTempDir, removeDir } from "../helpers/app.js";
import { checkBackupDir, checkDatabaseDir } from "../helpers/check-database-dir.js";
import { crashAtEveryCall } from "../helpers/crash-loop.js";
import { insertNode, withDb } from "../helpers/data.js";
import { seedDatabaseFile, titles } from "../helpers/seed.js";

/** The backups a data dir holds and the titles in each: every one must survive any crash. */
function backupsIn(dataDir: string): Record<string, string[]> {
  const dir = path.join(dataDir, "backups", "default");
  const names = readdirSync(dir).filter((name) => parseBackupName(name) !== null);
  return Object.fromEntries(names.map((name) => [name, titles(path.join(dir, name))]));
}

const dbDir = (deps: ServiceDeps) => deps.paths.dbDir("default");
const backupDir = (deps: ServiceDeps) => deps.paths.backupDir("default");

/**
 * Crash points generated from the real code: each operation runs with file calls that crash the "process" at
 * their N-th call, for every N; start-up recovery (itself crashed at each of its calls in turn) then runs on the
 * data dir, which must hold the old or the new state, whole, with nothing half-done and nothing acknowledged lost.
 */
// Each test is a loop of runs: generous for a loaded machine, seconds on a quiet one.
describe("crashed at every one of its file calls", { timeout: 180_000 }, () => {
  const dirs: string[] = [];
  let first: string;
  let second: string;
  let backup: string;

  beforeAll(async () => {
    // One fixture: live [backup, live], a backup of [backup]; a second one where a restore already happened.
    const t = createTestApp();
    dirs.push(t.dataDir);
    await withDb(t.services, "default", (db) => insertNode(db, "backup"));
    backup = (await t.caller.backup.create()).filename;
    await withDb(t.services, "default", (db) => insertNode(db, "live"));
    await t.services.verifications.idle();
    await t.close();
    first = t.dataDir;
    second = makeTempDir("cc-crash-");
    dirs.push(second);
    const { cpSync } = await import("node:fs");
    cpSync(first, second, { recursive: true });
    const again = createTestApp({ dataDir: second });
    await restoreBackup(again.services, "default", backup);
    await withDb(again.services, "default", (db) => insertNode(db, "after"));
    await again.services.verifications.idle();
    await again.close();
  });
  afterAll(() => {
    for (const dir of dirs) removeDir(dir);
  });

  function restoreEveryStep(fixture: string, before: string[], base: FileOps = nodeFileOps) {
    const kept = backupsIn(fixture);
    return crashAtEveryCall({
      fixture,
      base,
      run: (deps) => restoreBackup(deps, "default", backup),
      check: (deps, { acknowledged }) => {
        const state = checkDatabaseDir(dbDir(deps), { before, after: ["backup"] });
        // The replaced database is listed as a backup by then (I1), by the restore or by the server's start.
        const listed = checkBackupDir(backupDir(deps), { kept, added: before, acknowledged, duplicates: true });
        if (state === "after" && !listed) throw new Error("the replaced database is not listed as a backup");
        return state;
      },
    });
  }

  it("the first restore of a database", async () => {
    const crashes = await restoreEveryStep(first, ["backup", "live"]);
    // The intent, the link, the rename over app.db and the fsyncs are all among the points crashed at.
    expect(crashes.join("\n")).toMatch(/writeFileAtomic[\s\S]*link[\s\S]*rename\(\.app\.db\.restore-[\s\S]*fsyncDir/);
    expect(crashes.some((c) => c.includes("→ after"))).toBe(true);
    // Recovery itself was crashed where it had work to do, and still ended consistent.
    expect(crashes.some((c) => c.includes("recovery crashed"))).toBe(true);
  });

  it("the first restore on a filesystem without hard links (app.db is renamed aside, then replaced)", async () => {
    const noLinks: FileOps = {
      ...nodeFileOps,
      link: async () => {
        throw Object.assign(new Error("no hard links here"), { code: "EPERM" });
      },
    };
    const crashes = await restoreEveryStep(first, ["backup", "live"], noLinks);
    expect(crashes.join("\n")).toMatch(/rename\(app\.db, app\.db\.pre_restore\)[\s\S]*rename\(\.app\.db\.restore-/);
  });

  it("a restore that replaces an earlier safety copy", async () => {
    const crashes = await restoreEveryStep(second, ["backup", "after"]);
    expect(crashes.join("\n")).toMatch(/rename\(app\.db\.pre_restore, \.app\.db\.pre_restore\.old-/);
  });

  it("a restore rolled back (its last step fails after the swap)", async () => {
    const refused = new Error("refused after the swap");
    const before = ["backup", "live"];
    const kept = backupsIn(first);
    const crashes = await crashAtEveryCall({
      fixture: first,
      overrides: { restoreHooks: [{ afterOpen: () => Promise.reject(refused) }] },
      run: (deps) =>
        restoreBackup(deps, "default", backup).catch((error: unknown) => {
          if (error !== refused) throw error;
        }),
      check: (deps, { acknowledged }) => {
        const state = checkDatabaseDir(dbDir(deps), { before, after: ["backup"] });
        checkBackupDir(backupDir(deps), { kept, added: before, acknowledged: false, duplicates: true });
        // Once the rollback ran to its end the previous database is back.
        if (acknowledged && state !== "before") throw new Error("a finished rollback left the restored database");
        return state;
      },
    });
    // The rollback is recorded in the intent, the restored file moved aside, the previous one renamed back.
    expect(crashes.join("\n")).toMatch(
      /writeFileAtomic\(restore\.intent\)[\s\S]*renameSync\(app\.db, \.app\.db\.rejected-[\s\S]*rename\(app\.db\.pre_restore, app\.db\) → before/,
    );
  });

  it("a backup", async () => {
    const kept = backupsIn(first);
    const live = ["backup", "live"];
    const crashes = await crashAtEveryCall({
      fixture: first,
      run: (deps) => createBackup(deps, "default"),
      check: (deps, { acknowledged }) => {
        checkDatabaseDir(dbDir(deps), { before: live, after: live });
        return checkBackupDir(backupDir(deps), { kept, added: live, acknowledged }) ? "written" : "none";
      },
    });
    // The temp renamed into place, the directory fsynced, the record written: each crashed at.
    expect(crashes.join("\n")).toMatch(/rename\(\.app_[\s\S]*fsyncDir\(default\) → written[\s\S]*writeFileAtomic/);
  });

  it("an upload", async () => {
    const kept = backupsIn(first);
    const live = ["backup", "live"];
    const source = path.join(makeTempDir("cc-crash-"), "upload.db");
    dirs.push(path.dirname(source));
    seedDatabaseFile(source, { titles: ["uploaded"] });
    const bytes = readFileSync(source);
    const crashes = await crashAtEveryCall({
      fixture: first,
      run: (deps) => receiveUpload(deps, "default", Readable.from([bytes]), bytes.length),
      check: (deps, { acknowledged }) => {
        checkDatabaseDir(dbDir(deps), { before: live, after: live });
        return checkBackupDir(backupDir(deps), { kept, added: ["uploaded"], acknowledged }) ? "kept" : "none";
      },
    });
    // Linked under its name, the temp removed, the directory fsynced, the record written.
    expect(crashes.join("\n")).toMatch(
      /link\(\.upload\.tmp-[\s\S]*rm\(\.upload\.tmp-[\s\S]*fsyncDir[\s\S]*writeFileAtomic/,
    );
  });
});
