import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { listLeftPreRestores, prunePreRestores } from "../../src/services/backup/pre-restore.js";
import { applyRetention } from "../../src/services/schedules/index.js";
import { type TestApp, useTestApps } from "../helpers/app.js";
import { insertNode, nodeTitles, withDb } from "../helpers/data.js";
import { titles } from "../helpers/seed.js";

interface Listed {
  filename: string;
  kind: string;
  sha256: string | null;
}

const DAY = 86_400_000;
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe("pre-restore backups: every database a restore replaces stays listed", () => {
  const newApp = useTestApps();
  let t: TestApp;
  const backupDir = () => path.join(t.dataDir, "backups", "default");
  const write = (title: string) => withDb(t.services, "default", (db) => insertNode(db, title));
  const at = (iso: string) => {
    t.services.now = () => new Date(iso);
  };

  async function backup(): Promise<string> {
    const res = await t.request("/api/v1/backup", { method: "POST" });
    expect(res.status).toBe(200);
    return ((await res.json()) as { filename: string }).filename;
  }

  async function restore(filename: string): Promise<{ safety_copy: string; safety_backup: string | null }> {
    const res = await t.request(`/api/v1/backup/${filename}/restore`, { method: "POST" });
    expect(res.status).toBe(200);
    return (await res.json()) as { safety_copy: string; safety_backup: string | null };
  }

  async function listed(): Promise<Listed[]> {
    return ((await (await t.request("/api/v1/backup")).json()) as { backups: Listed[] }).backups;
  }

  it("restore A then restore B: the data live before A is still listed, downloadable and restorable", async () => {
    t = newApp();
    at("2026-12-01T10:00:00Z");
    await write("one");
    const a = await backup();
    await write("two");
    at("2026-12-01T11:00:00Z");
    const b = await backup();
    await write("three, never in a backup");

    at("2026-12-01T12:00:00Z");
    const first = await restore(a);
    expect(first).toMatchObject({ safety_copy: "app.db.pre_restore", safety_backup: "prerestore_20261201_120000.db" });
    await write("four, never in a backup");
    at("2026-12-01T13:00:00Z");
    const second = await restore(b);
    expect(second.safety_backup).toBe("prerestore_20261201_130000.db");
    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["one", "two"]);

    // Both replaced databases are listed as pre-restore backups, with their checksums.
    const list = await listed();
    const pre = list.filter((x) => x.kind === "pre-restore").map((x) => x.filename);
    expect(pre).toEqual(["prerestore_20261201_130000.db", "prerestore_20261201_120000.db"]);
    const beforeA = list.find((x) => x.filename === "prerestore_20261201_120000.db");
    const file = path.join(backupDir(), "prerestore_20261201_120000.db");
    expect(titles(file)).toEqual(["one", "two", "three, never in a backup"]);

    const download = await t.request("/api/v1/backup/prerestore_20261201_120000.db/download");
    expect(download.status).toBe(200);
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(sha256(bytes)).toBe(beforeA?.sha256);

    await t.services.verifications.idle();
    const verified = await t.request("/api/v1/backup/prerestore_20261201_120000.db/verify", { method: "POST" });
    expect(await verified.json()).toMatchObject({ verification: { state: "ok" } });

    at("2026-12-01T14:00:00Z");
    await restore("prerestore_20261201_120000.db");
    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["one", "two", "three, never in a backup"]);
    // ...and the database that restore replaced is one more pre-restore backup.
    expect(titles(path.join(backupDir(), "prerestore_20261201_140000.db"))).toEqual(["one", "two"]);
    expect(titles(path.join(backupDir(), "prerestore_20261201_130000.db"))).toEqual(["one", "four, never in a backup"]);

    // A schedule's retention, however strict, never removes a pre-restore backup.
    await applyRetention(
      t.services,
      "default",
      { enabled: true, cron: "0 2 * * *", timezone: "UTC", retention: { keep_last: 1 } },
      () => "ok",
    );
    const after = (await listed()).filter((x) => x.kind === "pre-restore").map((x) => x.filename);
    expect(after).toHaveLength(3);
  });

  it("the listed copy does not change when app.db.pre_restore is written to (a copy, not a hard link)", async () => {
    t = newApp();
    await write("one");
    const a = await backup();
    await write("two");
    const { safety_backup } = await restore(a);
    const listedFile = path.join(backupDir(), safety_backup ?? "");
    const before = sha256(readFileSync(listedFile));

    // The manual procedure moves app.db.pre_restore back into service, where it is written to.
    const db = new Database(path.join(t.dataDir, "databases", "default", "app.db.pre_restore"));
    db.prepare("UPDATE nodes SET title = 'changed in place'").run();
    db.close();

    expect(sha256(readFileSync(listedFile))).toBe(before);
    expect(titles(listedFile)).toEqual(["one", "two"]);
  });

  it("an app.db.pre_restore nobody listed (a crash after the swap) is listed at start and before a restore removes it", async () => {
    t = newApp();
    await write("one");
    const a = await backup();
    const dbDir = path.join(t.dataDir, "databases", "default");
    // As a crash between a swap and its listing leaves it: app.db.pre_restore and no record of its listing.
    copyFileSync(path.join(backupDir(), a), path.join(dbDir, "app.db.pre_restore"));
    await listLeftPreRestores(t.services);
    const started = (await listed()).filter((x) => x.kind === "pre-restore");
    expect(started).toHaveLength(1);
    await listLeftPreRestores(t.services);
    expect((await listed()).filter((x) => x.kind === "pre-restore")).toHaveLength(1);

    // Left by a version before pre-restore backups, and the server never started since: the restore lists it first.
    copyFileSync(path.join(backupDir(), a), path.join(dbDir, "app.db.pre_restore"));
    await write("two");
    at("2030-01-01T00:00:00Z");
    await restore(a);
    const pre = (await listed()).filter((x) => x.kind === "pre-restore").map((x) => x.filename);
    expect(pre).toHaveLength(3);
    expect(titles(path.join(backupDir(), "prerestore_20300101_000000.db"))).toEqual(["one", "two"]);
  });

  it("a clock jumped 40 days ahead removes none of the minutes-old copies (chaos seed 8202, step 67)", async () => {
    t = newApp();
    at("2026-12-03T10:00:00Z");
    await write("in the backup");
    const a = await backup();
    // Four restores minutes apart, each replacing a database with one write no backup holds.
    for (const minute of [1, 2, 3, 4]) {
      at(`2026-12-03T10:0${minute}:00Z`);
      await write(`only before restore ${minute}`);
      await restore(a);
    }
    // The clock jumps ahead (a bad NTP step); one more restore lists one more copy and prunes by the rule.
    at("2027-01-12T10:05:00Z");
    await write("only before restore 5");
    await restore(a);
    const kept = (await listed()).filter((x) => x.kind === "pre-restore");
    const held = kept.flatMap((x) => titles(path.join(backupDir(), x.filename)));
    for (const n of [1, 2, 3, 4, 5]) expect(held).toContain(`only before restore ${n}`);
  });

  it("its own rule keeps the newest 3, every one younger than 7 days and those of the 7 newest restore days", async () => {
    t = newApp();
    await write("one");
    const a = await backup();
    // Two copies on one day, 8 restore days in all: the copies of the 7 newest days stay, the oldest day's goes.
    const ages = [1, 2, 3, 5, 9.75, 10, 20, 40, 50];
    const names = ages.map((days) => {
      const stamp = new Date(Date.parse("2026-12-31T00:00:00Z") - days * DAY)
        .toISOString()
        .replace(/[-:]/g, "")
        .replace("T", "_")
        .slice(0, 15);
      const name = `prerestore_${stamp}.db`;
      copyFileSync(path.join(backupDir(), a), path.join(backupDir(), name));
      return name;
    });
    at("2026-12-31T00:00:00Z");
    // The clock says 4 are younger than 7 days; the newest 7 restore days hold all but the 50-day-old one.
    expect(await prunePreRestores(t.services, "default", "none")).toEqual(names.slice(8));
    for (const name of names.slice(0, 8)) expect(existsSync(path.join(backupDir(), name))).toBe(true);

    const config = loadConfig(
      { CHAOSCYPHER_PRE_RESTORE_KEEP_LAST: "1", CHAOSCYPHER_PRE_RESTORE_KEEP_DAYS: "0" },
      { dataDir: t.dataDir },
    );
    expect(config).toMatchObject({ preRestoreKeepLast: 1, preRestoreKeepDays: 0 });
    t.services.config = { ...t.services.config, preRestoreKeepLast: 1, preRestoreKeepDays: 0 };
    // The newest stays by the count, the one just listed (`keep`) whatever its age; no day rule with 0 days.
    const pruned = names.slice(1, 8).filter((name) => name !== names[3]);
    expect(await prunePreRestores(t.services, "default", names[3] ?? "")).toEqual(pruned);
    expect(() => loadConfig({ CHAOSCYPHER_PRE_RESTORE_KEEP_LAST: "0" }, { dataDir: t.dataDir })).toThrow(
      /CHAOSCYPHER_PRE_RESTORE_KEEP_LAST/,
    );
  });
});
