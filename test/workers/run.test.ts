import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openSqlite } from "../../src/db/sqlite.js";
import { TaskRunner } from "../../src/workers/run.js";
import { makeTempDir, removeDir } from "../helpers/app.js";
import { seedDatabaseFile } from "../helpers/seed.js";

/** Nice values of this process's threads, from /proc (field 19 of each thread's stat line). */
function threadNices(): number[] {
  return readdirSync("/proc/self/task").map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
  });
}

describe("worker tasks", () => {
  const dir = makeTempDir("cc-workers-");
  const workers = new TaskRunner();
  const runTask: TaskRunner["run"] = (task, args, options) => workers.run(task, args, options);
  const stopWorkers = () => workers.stop();
  afterAll(async () => {
    await stopWorkers();
    removeDir(dir);
  });

  it("a task's failure keeps its code and message", async () => {
    await expect(runTask("migrateFile", { file: path.join(dir, "missing.db"), migrations: [] })).rejects.toMatchObject({
      code: "ENOENT",
    });
  });

  it("pooled background tasks leave no connection open and run niced; once stopped, tasks are refused", async () => {
    const live = path.join(dir, "app.db");
    seedDatabaseFile(live, { titles: ["a"], wal: true });
    for (let i = 0; i < 3; i++) {
      const dest = path.join(dir, `copy${i}.db`);
      await runTask("vacuumInto", { src: live, temp: dest });
      const result = await runTask("validateBackup", { file: dest, newestKnownMillis: Number.MAX_SAFE_INTEGER });
      expect(result).toMatchObject({ ok: true });
    }
    // Nobody else holds the file: an exclusive lock is granted at once.
    const sqlite = openSqlite(live);
    sqlite.pragma("locking_mode = EXCLUSIVE");
    expect(() => sqlite.exec("BEGIN EXCLUSIVE; COMMIT")).not.toThrow();
    sqlite.close();
    if (process.platform === "linux") expect(threadNices()).toContain(10);
    await stopWorkers();
    expect(threadNices()).not.toContain(10);
    await expect(runTask("validateBackup", { file: live, newestKnownMillis: 0 })).rejects.toMatchObject({
      code: "SHUTTING_DOWN",
    });
  });
});
