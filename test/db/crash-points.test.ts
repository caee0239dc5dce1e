import { cpSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileOps, nodeFileOps } from "../../src/lib/durable-fs.js";
import { restoreBackup } from "../../src/services/backup/restore.js";
import { createTestApp, makeTempDir, removeDir } from "../helpers/app.js";
import { checkDatabaseDir } from "../helpers/check-database-dir.js";
import { insertNode, withDb } from "../helpers/data.js";
import { Crash, crashingFileOps } from "../helpers/faults.js";

/**
 * Crash points generated from the real code: the restore runs with file operations that crash the "process"
 * at their N-th call, for N = 1, 2, … until a restore makes fewer calls; after each crash start-up recovery runs
 * on the directory and it must hold the old or the new database, whole, with nothing left half-done.
 */
describe("a restore crashed at every one of its file operations", () => {
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
    await t.close();
    first = t.dataDir;
    second = copy(first);
    const again = createTestApp({ dataDir: second });
    await restoreBackup(again.services, "default", backup);
    await withDb(again.services, "default", (db) => insertNode(db, "after"));
    await again.close();
  });
  afterAll(() => {
    for (const dir of dirs) removeDir(dir);
  });

  function copy(from: string): string {
    const to = makeTempDir("cc-crash-");
    dirs.push(to);
    cpSync(from, to, { recursive: true });
    return to;
  }

  async function crashEveryStep(fixture: string, before: string[], base: FileOps = nodeFileOps): Promise<string[]> {
    const crashes: string[] = [];
    for (let crashAt = 1; ; crashAt++) {
      const dataDir = copy(fixture);
      const crash = crashingFileOps(crashAt, base);
      const t = createTestApp({ dataDir, services: { fileOps: crash.ops } });
      const outcome = await restoreBackup(t.services, "default", backup).then(
        () => "done",
        (error: unknown) => {
          if (!(error instanceof Crash)) throw error;
          return error.call;
        },
      );
      await t.close();
      // Start-up after the crash: recovery runs before anything is served.
      const restarted = createTestApp({ dataDir });
      const dir = restarted.services.paths.dbDir("default");
      const state = checkDatabaseDir(dir, { before, after: ["backup"] });
      await restarted.close();
      removeDir(dataDir);
      if (outcome === "done") return crashes;
      crashes.push(`${outcome} → ${state}`);
    }
  }

  it("the first restore of a database", async () => {
    const crashes = await crashEveryStep(first, ["backup", "live"]);
    // The intent, the link, the rename over app.db and the fsyncs are all among the points crashed at.
    expect(crashes.join("\n")).toMatch(/writeFileAtomic[\s\S]*link[\s\S]*rename\(\.app\.db\.restore-[\s\S]*fsyncDir/);
    expect(crashes.some((c) => c.endsWith("→ after"))).toBe(true);
  });

  it("the first restore on a filesystem without hard links (app.db is renamed aside, then replaced)", async () => {
    const noLinks: FileOps = {
      ...nodeFileOps,
      link: async () => {
        throw Object.assign(new Error("no hard links here"), { code: "EPERM" });
      },
    };
    const crashes = await crashEveryStep(first, ["backup", "live"], noLinks);
    expect(crashes.join("\n")).toMatch(/rename\(app\.db, app\.db\.pre_restore\)[\s\S]*rename\(\.app\.db\.restore-/);
  });

  it("a restore that replaces an earlier safety copy", async () => {
    const crashes = await crashEveryStep(second, ["backup", "after"]);
    expect(crashes.join("\n")).toMatch(/rename\(app\.db\.pre_restore, \.app\.db\.pre_restore\.old-/);
  });
});
