import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { UpgradeState } from "../../src/db/upgrade-state.js";
import type { RestoreHook } from "../../src/services/deps.js";
import { makeTempDir, removeDir, startTestApp } from "../helpers/app.js";
import { failingRename } from "../helpers/faults.js";
import { FIRST, seedDatabase } from "../helpers/seed.js";

describe("a migration rollback records its state before the swap", () => {
  it("at the moment of the swap (a crash there) the hold is already recorded, so start-up never re-applies", async () => {
    const dataDir = makeTempDir();
    seedDatabase(dataDir, "notes", { upTo: FIRST, titles: ["a"] });
    let atSwap: UpgradeState | null = null;
    const observe: RestoreHook = {
      afterOpen: async (deps, database) => {
        atSwap = deps.upgradeStates.read(database);
      },
    };
    const t = await startTestApp({ dataDir, services: { restoreHooks: [observe] } });
    try {
      await t.caller.upgrade.rollback({ database: "notes" });
      expect(atSwap).toMatchObject({ blocked: null, rolled_back: { revision: FIRST } });
    } finally {
      await t.close();
      removeDir(dataDir);
    }
  });

  it("a rollback whose swap fails leaves the recorded state as it was", async () => {
    const dataDir = makeTempDir();
    seedDatabase(dataDir, "notes", { upTo: FIRST, titles: ["a"] });
    const t = await startTestApp({ dataDir, services: { fileOps: failingRename(1) } });
    try {
      const before = t.services.upgradeStates.read("notes");
      await expect(t.caller.upgrade.rollback({ database: "notes" })).rejects.toThrow();
      expect(t.services.upgradeStates.read("notes")).toEqual(before);
    } finally {
      await t.close();
      removeDir(dataDir);
    }
  });

  it("a rollback that fails after the swap (removing the intent) keeps the hold: the file is the pre-upgrade one", async () => {
    const dataDir = makeTempDir();
    seedDatabase(dataDir, "notes", { upTo: FIRST, titles: ["a"] });
    // The intent becomes a non-empty directory once the restored file is open, so removing it fails.
    const blockIntentRemoval: RestoreHook = {
      afterOpen: async (deps, database) => {
        const intent = path.join(deps.paths.dbDir(database), "restore.intent");
        rmSync(intent, { force: true });
        mkdirSync(path.join(intent, "busy"), { recursive: true });
      },
    };
    const t = await startTestApp({ dataDir, services: { restoreHooks: [blockIntentRemoval] } });
    try {
      await expect(t.caller.upgrade.rollback({ database: "notes" })).rejects.toThrow();
      expect(t.services.upgradeStates.read("notes")).toMatchObject({ blocked: null, rolled_back: { revision: FIRST } });
    } finally {
      await t.close();
      removeDir(dataDir);
    }
  });
});
