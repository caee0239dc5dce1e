import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { type TestApp, useTestApps } from "../helpers/app.js";
import { insertNode, nodeTitles, withDb } from "../helpers/data.js";
import { titles } from "../helpers/seed.js";

interface CrashFiles {
  dir: string;
  appDb: string;
  staged: string;
  preRestore: string;
  intent: string;
}

/**
 * Crashes of a restore on their own are generated from the code (test/db/crash-points.test.ts loops over every
 * file call). These two combine a crash with another fault the loop cannot make: another process creating app.db
 * while it was missing, and a rollback whose intent could not be recorded (a full disk). The last element: a
 * file kept aside.
 */
const crashPoints: [string, (f: CrashFiles) => void, "old" | "new", string?][] = [
  [
    "after another process created an empty app.db while it was missing (no hard links)",
    (f) => {
      writeIntent(f);
      renameSync(f.appDb, f.preRestore);
      new Database(f.appDb).exec("CREATE TABLE stray (x)");
    },
    "new",
    ".app.db.rejected-",
  ],
  [
    "during a rollback the intent could not record, after the new app.db was dropped",
    (f) => {
      writeIntent(f);
      renameSync(f.appDb, f.preRestore);
      renameSync(f.staged, path.join(f.dir, "gone.db"));
    },
    "old",
  ],
];

function writeIntent(f: CrashFiles, extra: Record<string, string> = {}): void {
  writeFileSync(f.intent, JSON.stringify({ staged: path.basename(f.staged), backup: "app_x.db", ...extra }));
}

describe("start-up after a crash in the middle of a restore combined with another fault", () => {
  const newApp = useTestApps();
  let t: TestApp;

  it.each(crashPoints)("recovers a crash %s", async (_label, crash, expected, keptAside) => {
    t = newApp();
    await withDb(t.services, "default", (db) => insertNode(db, "backup data"));
    const { filename } = await t.caller.backup.create();
    await withDb(t.services, "default", (db) => insertNode(db, "live data"));
    await t.close();

    const dir = path.join(t.dataDir, "databases", "default");
    const files: CrashFiles = {
      dir,
      appDb: path.join(dir, "app.db"),
      staged: path.join(dir, ".app.db.restore-deadbeef"),
      preRestore: path.join(dir, "app.db.pre_restore"),
      intent: path.join(dir, "restore.intent"),
    };
    copyFileSync(path.join(t.dataDir, "backups", "default", filename), files.staged);
    crash(files);

    t = newApp({ dataDir: t.dataDir });
    const served = await withDb(t.services, "default", nodeTitles);
    expect(served).toEqual(expected === "old" ? ["backup data", "live data"] : ["backup data"]);
    expect(readdirSync(dir).filter((f) => f.startsWith(".app.db.restore-") || f === "restore.intent")).toEqual([]);
    if (expected === "new") {
      expect(titles(files.preRestore)).toEqual(["backup data", "live data"]);
    }
    expect(existsSync(files.appDb)).toBe(true);
    if (expected === "old") expect(existsSync(files.preRestore)).toBe(false);
    const aside = readdirSync(dir).filter((f) => f.startsWith(".app.db.rejected-"));
    expect(aside).toHaveLength(keptAside ? 1 : 0);
  });
});

describe("start-up after a crash in the middle of an atomic write", () => {
  const newApp = useTestApps();

  it("removes the `.<name>.<hex>.tmp` files it left, and only those", async () => {
    let t = newApp();
    const { filename } = await t.caller.backup.create();
    await t.close();
    const dbDir = path.join(t.dataDir, "databases", "default");
    const backupDir = path.join(t.dataDir, "backups", "default");
    const schedulesDir = path.join(t.dataDir, "schedules");
    mkdirSync(schedulesDir, { recursive: true });
    const leftovers = [
      path.join(dbDir, ".restore.intent.0a1b2c3d.tmp"),
      path.join(backupDir, `.${filename}.json.deadbeef.tmp`),
      path.join(schedulesDir, ".default.json.12345678.tmp"),
      path.join(schedulesDir, ".default.state.json.9abcdef0.tmp"),
    ];
    const kept = [
      path.join(dbDir, ".notes.tmp"),
      path.join(backupDir, "keep.0a1b2c3d.tmp"),
      path.join(backupDir, `.${filename}.json.DEADBEEF.tmp`),
      path.join(schedulesDir, ".other.json.12345678.tmp"),
    ];
    for (const file of [...leftovers, ...kept]) writeFileSync(file, "{");

    t = newApp({ dataDir: t.dataDir });
    expect(leftovers.filter((file) => existsSync(file))).toEqual([]);
    expect(kept.filter((file) => existsSync(file))).toEqual(kept);
    expect(existsSync(path.join(backupDir, filename))).toBe(true);
  });
});
