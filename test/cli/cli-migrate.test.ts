import { readdirSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { dataPaths } from "../../src/db/paths.js";
import { OperationLocks } from "../../src/services/locks.js";
import { makeTempDir, removeDir, startTestApp } from "../helpers/app.js";
import { oneLine, parseJson, runCli, spawnCli, waitForOutput } from "../helpers/cli.js";
import {
  appliedCount,
  LATEST,
  migrations,
  migrationsWithFailingOne,
  PREVIOUS,
  seedDatabase,
  titles,
} from "../helpers/seed.js";

interface Status {
  database: string;
  state: string;
  revision: string | null;
  pending: string[];
  last_backup: { filename: string; path: string; revision: string | null } | null;
  blocked: { reason: string; backup: string | null } | null;
  rolled_back: { backup: string } | null;
  message: string | null;
}
interface Report {
  database: string;
  outcome: string;
  applied: string[];
  backup: string | null;
}

const PRE = new RegExp(`^pre-${LATEST}-\\d{8}T\\d{6}Z\\.db$`);

describe("chaoscypher CLI: upgrade and db migrate", () => {
  let dir: string;
  const cli = (...args: string[]) => runCli([...args, "--data-dir", dir]);
  const status = async (database?: string) => {
    const result = await cli("db", "migrate", "status", "--json", ...(database ? ["--database", database] : []));
    expect(result.code).toBe(0);
    return parseJson<{ databases: Status[] }>(result).databases;
  };
  const preBackups = (db: string) => readdirSync(path.join(dir, "backups", db)).filter((f) => f.startsWith("pre-"));
  afterEach(() => removeDir(dir));

  // A dozen CLI processes in a row: on the shared 2-core machine this took ~30 s even before checksums came.
  it("upgrades an older database after a backup, rolls it back, holds it, and applies it again", {
    timeout: 90_000,
  }, async () => {
    dir = makeTempDir("cc-cli-");
    seedDatabase(dir, "default", { upTo: PREVIOUS, titles: ["old"] });
    const dbFile = path.join(dir, "databases", "default", "app.db");

    expect(await status()).toEqual([
      expect.objectContaining({ database: "default", state: "pending", revision: PREVIOUS, pending: [LATEST] }),
    ]);

    const upgraded = await cli("upgrade", "--json");
    expect(upgraded.code).toBe(0);
    expect(upgraded.stderr).toBe("");
    const [report] = parseJson<{ databases: Report[] }>(upgraded).databases;
    expect(report).toEqual({ database: "default", outcome: "applied", applied: [LATEST], backup: expect.any(String) });
    expect(report?.backup).toMatch(PRE);
    expect(titles(path.join(dir, "backups", "default", report?.backup as string))).toEqual(["old"]);

    const [after] = await status("default");
    expect(after).toMatchObject({ state: "up_to_date", revision: LATEST, pending: [], message: null });
    expect(after?.last_backup).toEqual({
      filename: report?.backup,
      path: path.join(dir, "backups", "default", report?.backup as string),
      revision: PREVIOUS,
      created_at: expect.stringMatching(/^\d{8}_\d{6}$/),
      created_at_iso: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });

    const refused = await cli("db", "migrate", "rollback");
    expect(refused.code).toBe(1);
    expect(oneLine(refused)).toBe("chaoscypher: refusing to roll back without --yes (there is no terminal to ask)");
    expect(appliedCount(dbFile)).toBe(migrations.length);

    const rolled = await cli("db", "migrate", "rollback", "--yes", "--json");
    expect(rolled.code).toBe(0);
    expect(parseJson(rolled)).toEqual({
      database: "default",
      restored_from: report?.backup,
      safety_copy: "app.db.pre_restore",
      safety_backup: expect.stringMatching(/^prerestore_\d{8}_\d{6}(_\d+)?\.db$/),
      revision: PREVIOUS,
    });
    expect(appliedCount(dbFile)).toBe(migrations.length - 1);
    const [held] = await status();
    expect(held).toMatchObject({ state: "rolled_back", revision: PREVIOUS, pending: [LATEST] });
    expect(held?.message).toContain('"chaoscypher db migrate apply --database default"');

    // `upgrade` (what the server does on start) leaves a rolled-back database alone; its commands refuse it.
    const skipped = await cli("upgrade");
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toContain("default: held back after a rollback");
    const blockedList = await cli("backup", "list", "--json");
    expect(blockedList.code).toBe(1);
    expect(oneLine(blockedList)).toContain("was rolled back to revision");
    expect(parseJson(blockedList)).toMatchObject({ error: "DATABASE_BLOCKED" });

    const applied = await cli("db", "migrate", "apply", "--database", "default");
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(new RegExp(`^default: applied ${LATEST} after backup pre-`, "m"));
    expect(preBackups("default")).toHaveLength(2);
    expect((await status())[0]).toMatchObject({ state: "up_to_date", rolled_back: null });
    expect(titles(dbFile)).toEqual(["old"]);

    const nothing = await cli("db", "migrate", "rollback", "--database", "nope", "--yes");
    expect(nothing.code).toBe(1);
    expect(oneLine(nothing)).toBe('chaoscypher: database "nope" does not exist');
  });

  it("reports a database blocked by a failed migration, refuses its commands, and rolls it back", async () => {
    dir = makeTempDir("cc-cli-");
    seedDatabase(dir, "dup", { titles: ["same", "same"] });
    // A server whose build carries a migration that fails on this data: it blocks "dup" and records why.
    (await startTestApp({ dataDir: dir, services: { migrations: migrationsWithFailingOne() } })).close();
    const [pre] = preBackups("dup");

    // "default" was created by that build, with 0002 applied: this build sees a newer schema and says so.
    const all = await status();
    expect(all.map((s) => [s.database, s.state])).toEqual([
      ["default", "newer_schema"],
      ["dup", "blocked"],
    ]);
    expect(all[1]?.blocked).toMatchObject({ reason: "migration_failed", backup: pre });
    const human = await cli("db", "migrate", "status");
    expect(human.stdout).toMatch(/^dup +blocked /m);
    expect(human.stdout).toContain('"chaoscypher db migrate rollback --database dup"');

    const refused = await cli("backup", "create", "--database", "dup");
    expect(refused.code).toBe(1);
    expect(oneLine(refused)).toMatch(
      /^chaoscypher: database "dup" is blocked: migration 0002_unique_node_titles failed/,
    );

    const rolled = await cli("db", "migrate", "rollback", "--database", "dup", "--yes");
    expect(rolled.code).toBe(0);
    expect(rolled.stdout).toContain(`rolled back database dup to revision ${LATEST} from ${pre}`);
    expect((await status("dup"))[0]).toMatchObject({ state: "rolled_back", blocked: null });
  });

  it("two concurrent upgrade processes apply the migrations once", async () => {
    dir = makeTempDir("cc-cli-");
    seedDatabase(dir, "default", { upTo: PREVIOUS, titles: ["old"] });
    // Hold the database's lock so both processes are surely waiting for it at the same time.
    const lock = new OperationLocks(dataPaths(dir).dbDir).acquire("default", "backup");
    const runs = [0, 1].map(() => spawnCli(["upgrade", "--json", "--verbose", "--data-dir", dir]));
    try {
      for (const run of runs) await waitForOutput(run, run.stderr, (text) => text.includes("waiting for another"));
    } finally {
      lock.release();
    }
    const results = await Promise.all(runs.map((run) => run.done));
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    const outcomes = results.map((r) => parseJson<{ databases: Report[] }>(r).databases[0]?.outcome).sort();
    expect(outcomes).toEqual(["applied", "up_to_date"]);
    expect(preBackups("default")).toHaveLength(1);
    expect(appliedCount(path.join(dir, "databases", "default", "app.db"))).toBe(migrations.length);
  });
});
