import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { dataPaths, RESTORE_INTENT } from "../../src/db/paths.js";
import { recoverDatabaseDir } from "../../src/db/recovery.js";
import { ServerSettings } from "../../src/db/server-settings.js";
import { UpgradeStateStore } from "../../src/db/upgrade-state.js";
import { FormatVersionError } from "../../src/lib/format.js";
import { createLogger } from "../../src/logger.js";
import { readRecord, updateRecord } from "../../src/services/backup/records.js";
import { readRecord as readOffsiteRecord, readTombstone, writeRecord } from "../../src/services/offsite/sidecar.js";
import { ScheduleStore } from "../../src/services/schedules/store.js";
import { makeTempDir, removeDir } from "../helpers/app.js";

/** docs/format.md: every file is written with `version: 1`, read as 1 without it, and refused with any other. */
describe("versioned formats", () => {
  let root: string;
  afterEach(() => removeDir(root));
  const logger = createLogger("silent");

  function setUp() {
    root = makeTempDir();
    const paths = dataPaths(root);
    mkdirSync(paths.dbDir("kb"), { recursive: true });
    mkdirSync(paths.backupDir("kb"), { recursive: true });
    mkdirSync(paths.schedulesDir, { recursive: true });
    return paths;
  }

  const newer = (body: object) => JSON.stringify({ version: 2, ...body });

  it("writes version 1 and reads a file that predates the field as version 1", async () => {
    const paths = setUp();
    const dir = paths.backupDir("kb");
    writeFileSync(path.join(dir, "app_20250101_000000.db"), "x");
    const record = { sha256: "ab", size: 1, created_at: "20250101_000000", verification: { state: "ok", at: null } };
    writeFileSync(path.join(dir, ".app_20250101_000000.db.json"), JSON.stringify(record));
    expect(await readRecord(dir, "app_20250101_000000.db")).toEqual(record);
    await updateRecord(dir, "app_20250101_000000.db", { size: 2 });
    const written = JSON.parse(readFileSync(path.join(dir, ".app_20250101_000000.db.json"), "utf8"));
    expect(written).toEqual({ version: 1, ...record, size: 2 });

    const settings = new ServerSettings(paths.settingsFile);
    await settings.setCurrent("kb");
    expect(JSON.parse(readFileSync(paths.settingsFile, "utf8"))).toEqual({ version: 1, current: "kb" });
    writeFileSync(paths.settingsFile, JSON.stringify({ current: "old" }));
    expect(new ServerSettings(paths.settingsFile).current).toBe("old");
  });

  it("refuses every file of a version this build does not know, naming the file and the version", async () => {
    const paths = setUp();
    const dir = paths.backupDir("kb");
    const refused = (file: string) => new RegExp(`${path.basename(file)} has format version 2`);

    writeFileSync(paths.settingsFile, newer({ current: "kb" }));
    expect(() => new ServerSettings(paths.settingsFile)).toThrow(refused(paths.settingsFile));

    const states = new UpgradeStateStore(paths.dbDir);
    writeFileSync(paths.upgradeStateFile("kb"), newer({ blocked: null }));
    expect(() => states.read("kb")).toThrow(FormatVersionError);

    writeFileSync(path.join(paths.dbDir("kb"), "app.db"), "");
    writeFileSync(path.join(paths.dbDir("kb"), RESTORE_INTENT), newer({ staged: ".app.db.restore-ab", backup: "x" }));
    expect(() => recoverDatabaseDir(paths.dbDir("kb"), logger)).toThrow(refused(RESTORE_INTENT));

    writeFileSync(path.join(dir, ".a.db.json"), newer({ sha256: "ab" }));
    await expect(readRecord(dir, "a.db")).rejects.toThrow(FormatVersionError);
    writeFileSync(path.join(dir, ".a.db.offsite.json"), newer({ state: "done" }));
    await expect(readOffsiteRecord(dir, "a.db")).rejects.toThrow(FormatVersionError);
    await writeRecord(dir, "b.db", { state: "done", attempts: 0 });
    expect(await readOffsiteRecord(dir, "b.db")).toEqual({ state: "done", attempts: 0 });
    writeFileSync(path.join(dir, ".a.db.offsite-delete"), newer({ keys: [] }));
    await expect(readTombstone(dir, "a.db")).rejects.toThrow(FormatVersionError);

    const schedules = new ScheduleStore(paths);
    writeFileSync(schedules.stateFile("kb"), newer({ last_run: null }));
    await expect(schedules.readState("kb")).rejects.toThrow(FormatVersionError);
    writeFileSync(schedules.settingsFile("kb"), newer({ enabled: true }));
    await expect(schedules.readSettings("kb")).rejects.toThrow(FormatVersionError);
  });
});
