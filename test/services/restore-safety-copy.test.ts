import { copyFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { OLD_SAFETY_PREFIX, recoverDatabaseDir } from "../../src/db/recovery.js";
import { createLogger } from "../../src/logger.js";
import { type TestApp, useTestApps } from "../helpers/app.js";
import { insertNode, withDb } from "../helpers/data.js";
import { failingRename } from "../helpers/faults.js";
import { titles } from "../helpers/seed.js";

/** The older app.db.pre_restore is moved aside before the gate closes; it must never be lost by a failure. */
describe("the older safety copy during a restore", () => {
  const newApp = useTestApps();
  let t: TestApp;

  // Not `default`: a restore of it replaces the credentials these requests use.
  const dbDir = () => path.join(t.dataDir, "databases", "kb");
  const preRestore = () => path.join(dbDir(), "app.db.pre_restore");
  const leftovers = () => readdirSync(dbDir()).filter((f) => f.startsWith(OLD_SAFETY_PREFIX));

  async function restore(filename: string): Promise<number> {
    return (await t.request(`/api/v1/backup/${filename}/restore?database=kb`, { method: "POST" })).status;
  }

  it("is replaced by the newer one on a second restore, leaving nothing behind", async () => {
    t = newApp();
    t.services.registry.create("kb");
    await withDb(t.services, "kb", (db) => insertNode(db, "backed up"));
    const { filename } = await t.caller.backup.create({ database: "kb" });
    await withDb(t.services, "kb", (db) => insertNode(db, "before first restore"));
    expect(await restore(filename)).toBe(200);
    await withDb(t.services, "kb", (db) => insertNode(db, "before second restore"));
    expect(await restore(filename)).toBe(200);
    expect(titles(preRestore())).toEqual(["backed up", "before second restore"]);
    expect(leftovers()).toEqual([]);
  });

  it("stays in place when the swap fails", async () => {
    // Each restore renames once (the staged file into place): the second restore's fails.
    t = newApp({ services: { fileOps: failingRename(2) } });
    t.services.registry.create("kb");
    await withDb(t.services, "kb", (db) => insertNode(db, "backed up"));
    const { filename } = await t.caller.backup.create({ database: "kb" });
    await withDb(t.services, "kb", (db) => insertNode(db, "before first restore"));
    expect(await restore(filename)).toBe(200);
    expect(await restore(filename)).toBe(500);
    expect(titles(preRestore())).toEqual(["backed up", "before first restore"]);
    expect(leftovers()).toEqual([]);
  });

  it("is put back by start-up recovery after a crash, unless a newer one took its place", async () => {
    t = newApp();
    t.services.registry.create("kb");
    await withDb(t.services, "kb", (db) => insertNode(db, "older copy"));
    const { filename } = await t.caller.backup.create({ database: "kb" });
    const aside = path.join(dbDir(), `${OLD_SAFETY_PREFIX}0badc0de`);
    copyFileSync(path.join(t.dataDir, "backups", "kb", filename), aside);
    const logger = createLogger("silent");

    recoverDatabaseDir(dbDir(), logger);
    expect(titles(preRestore())).toEqual(["older copy"]);
    expect(leftovers()).toEqual([]);

    copyFileSync(preRestore(), aside);
    recoverDatabaseDir(dbDir(), logger);
    expect(leftovers()).toEqual([]);
    expect(titles(preRestore())).toEqual(["older copy"]);
  });
});
