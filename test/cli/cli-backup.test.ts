import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { afterEach, describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/main.js";
import { dataPaths } from "../../src/db/paths.js";
import { OperationLocks } from "../../src/services/locks.js";
import { makeTempDir, removeDir } from "../helpers/app.js";
import { BIN, oneLine, parseJson, runCli } from "../helpers/cli.js";
import { seedDatabase, titles } from "../helpers/seed.js";

function leaves(command: Command): Command[] {
  return command.commands.length === 0 ? [command] : command.commands.flatMap(leaves);
}

describe("chaoscypher CLI: help, databases and backups", () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = makeTempDir("cc-cli-");
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) removeDir(dir);
  });

  it("documents --data-dir (and --json where there is output) on every command", async () => {
    const program = await buildProgram();
    for (const command of leaves(program)) {
      const help = command.helpInformation();
      expect(help, command.name()).toContain("--data-dir <dir>");
      if (command.name() !== "serve") expect(help, command.name()).toContain("--json");
    }
    const top = await runCli(["--help"]);
    expect(top.code).toBe(0);
    for (const name of ["serve", "upgrade", "db", "backup", "databases"]) expect(top.stdout).toContain(name);
    const restore = await runCli(["backup", "restore", "--help"]);
    expect(restore.code).toBe(0);
    expect(restore.stdout).toContain("Usage: chaoscypher backup restore [options] <file>");
    expect(restore.stdout).toContain("--yes");
  });

  it("lists and creates databases, with JSON shapes and one-line failures", async () => {
    const dir = tempDir();
    const created = await runCli(["databases", "create", "notes", "--data-dir", dir, "--json"]);
    expect(created.code).toBe(0);
    expect(parseJson(created)).toEqual({ name: "notes" });

    // --data-dir defaults to $CHAOSCYPHER_DATA_DIR.
    const listed = await runCli(["databases", "list", "--json"], { env: { CHAOSCYPHER_DATA_DIR: dir } });
    expect(listed.code).toBe(0);
    expect(parseJson(listed)).toEqual({
      current: "default",
      databases: [
        { name: "default", size: expect.any(Number) },
        { name: "notes", size: expect.any(Number) },
      ],
    });
    const human = await runCli(["databases", "list", "--data-dir", dir]);
    expect(human.stdout).toMatch(/^\* +default +\d/m);
    expect(human.stderr).toBe("");

    const again = await runCli(["databases", "create", "notes", "--data-dir", dir, "--json"]);
    expect(again.code).toBe(1);
    expect(oneLine(again)).toBe('chaoscypher: database "notes" already exists');
    expect(parseJson(again)).toMatchObject({ error: "CONFLICT" });

    const bad = await runCli(["databases", "create", "no way", "--data-dir", dir]);
    expect(bad.code).toBe(1);
    expect(oneLine(bad)).toContain("database names are 1-64 letters");
    expect(bad.stdout).toBe("");

    const usage = await runCli(["databases", "create", "--data-dir", dir]);
    expect(usage.code).toBe(2);
    expect(oneLine(usage)).toBe("chaoscypher: missing required argument 'name'");
  });

  it("creates, lists, restores and deletes backups; destructive commands need --yes without a terminal", async () => {
    const dir = tempDir();
    seedDatabase(dir, "default", { titles: ["before"] });
    const dbFile = path.join(dir, "databases", "default", "app.db");

    const created = await runCli(["backup", "create", "--data-dir", dir, "--json"]);
    expect(created.code).toBe(0);
    expect(created.stderr).toBe(""); // no spinner when piped
    const backup = parseJson<{ filename: string; sha256: string }>(created);
    expect(backup).toEqual({
      database: "default",
      filename: expect.stringMatching(/^app_\d{8}_\d{6}\.db$/),
      size: expect.any(Number),
      created_at: expect.stringMatching(/^\d{8}_\d{6}$/),
      // Every JSON time is ISO 8601: the name stamp the API returns stays, the ISO time stands beside it.
      created_at_iso: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });

    const listed = await runCli(["backup", "list", "--data-dir", dir, "--json"]);
    expect(parseJson(listed)).toEqual({
      database: "default",
      backups: [
        {
          filename: backup.filename,
          size: expect.any(Number),
          created_at: expect.any(String),
          created_at_iso: expect.any(String),
          kind: "backup",
          sha256: backup.sha256,
          // The CLI leaves background verification to the server.
          verification: { state: "pending", at: null },
          // Off-site copies are not configured here (no CHAOSCYPHER_S3_BUCKET).
          offsite: { state: "disabled" },
        },
      ],
    });
    const human = await runCli(["backup", "list", "--data-dir", dir]);
    // The table shows the CLI's one time format; JSON keeps the API's stamp (and the ISO time beside it).
    expect(human.stdout).toMatch(/^app_\S+ +\S+ \S+ +\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC +backup /m);
    const row = `^${backup.filename.replace(".", "\\.")} .* backup +pending +${backup.sha256.slice(0, 12)}$`;
    expect(human.stdout).toMatch(new RegExp(row, "m"));

    const verified = await runCli(["backup", "verify", backup.filename, "--data-dir", dir, "--json"]);
    expect(verified.code).toBe(0);
    expect(parseJson(verified)).toMatchObject({ filename: backup.filename, verification: { state: "ok" } });
    const verifiedList = await runCli(["backup", "list", "--data-dir", dir]);
    expect(verifiedList.stdout).toMatch(new RegExp(`^${backup.filename.replace(".", "\\.")} .* backup +ok +`, "m"));

    seedDatabase(dir, "default", { titles: ["after"] });
    expect(titles(dbFile)).toEqual(["before", "after"]);
    const refused = await runCli(["backup", "restore", backup.filename, "--data-dir", dir]);
    expect(refused.code).toBe(1);
    expect(oneLine(refused)).toBe("chaoscypher: refusing to restore without --yes (there is no terminal to ask)");
    expect(titles(dbFile)).toEqual(["before", "after"]);

    const restored = await runCli(["backup", "restore", backup.filename, "--yes", "--data-dir", dir, "--json"]);
    expect(restored.code).toBe(0);
    expect(parseJson(restored)).toEqual({
      database: "default",
      restored_from: backup.filename,
      safety_copy: "app.db.pre_restore",
      safety_backup: expect.stringMatching(/^prerestore_\d{8}_\d{6}(_\d+)?\.db$/),
    });
    expect(titles(dbFile)).toEqual(["before"]);
    expect(titles(`${dbFile}.pre_restore`)).toEqual(["before", "after"]);

    const missing = await runCli(["backup", "delete", "app_20000101_000000.db", "--yes", "--data-dir", dir, "--json"]);
    expect(missing.code).toBe(1);
    expect(oneLine(missing)).toBe('chaoscypher: backup "app_20000101_000000.db" does not exist');
    expect(parseJson(missing)).toMatchObject({ error: "NOT_FOUND" });

    const deleted = await runCli(["backup", "delete", backup.filename, "--yes", "--data-dir", dir, "--json"]);
    expect(deleted.code).toBe(0);
    expect(parseJson(deleted)).toEqual({ database: "default", deleted: backup.filename });
    // What is left is the database the restore replaced, listed as a pre-restore backup (with its record).
    const left = readdirSync(path.join(dir, "backups", "default")).filter((f) => !f.startsWith("."));
    expect(left).toEqual([expect.stringMatching(/^prerestore_\d{8}_\d{6}\.db$/)]);
    expect(titles(path.join(dir, "backups", "default", left[0] ?? ""))).toEqual(["before", "after"]);
  });

  it("refuses to restore while another process backs up or restores that database", async () => {
    const dir = tempDir();
    seedDatabase(dir, "default", { titles: ["kept"] });
    const created = parseJson<{ filename: string }>(await runCli(["backup", "create", "--data-dir", dir, "--json"]));

    // This test process plays the running server, holding the database's cross-process lock for a backup.
    const lock = new OperationLocks(dataPaths(dir).dbDir).acquire("default", "backup");
    try {
      const refused = await runCli(["backup", "restore", created.filename, "--yes", "--data-dir", dir, "--json"]);
      expect(refused.code).toBe(1);
      expect(oneLine(refused)).toBe('chaoscypher: a backup of database "default" is already running');
      expect(parseJson(refused)).toMatchObject({ error: "OPERATION_IN_PROGRESS" });
      expect(existsSync(path.join(dir, "databases", "default", "app.db.pre_restore"))).toBe(false);
    } finally {
      lock.release();
    }
    const restored = await runCli(["backup", "restore", created.filename, "--yes", "--data-dir", dir]);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toContain(`restored database default from ${created.filename}`);
  });

  it("on a terminal, shows a spinner while a backup runs and asks before deleting", async () => {
    const dir = tempDir();
    // `script` gives the CLI a pseudo-terminal, as an operator's shell would.
    const onTerminal = (args: string, input = "") => {
      const command = `${process.execPath} ${BIN} ${args} --data-dir ${dir}`;
      const result = spawnSync("script", ["-qec", command, "/dev/null"], { input, encoding: "utf8" });
      return { code: result.status, output: result.stdout };
    };
    const { output: created } = onTerminal("backup create");
    expect(created).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] backing up default \d+\.\ds/);
    const filename = /created (app_\S+\.db)/.exec(created)?.[1] as string;
    expect(filename).toBeDefined();

    const kept = onTerminal(`backup delete ${filename}`, "n\n");
    expect(kept.output).toContain(`Delete backup ${filename} of database default? [y/N]`);
    expect(kept.output).toContain("chaoscypher: aborted, nothing was changed");
    expect(kept.code).toBe(1);
    expect(readdirSync(path.join(dir, "backups", "default")).filter((f) => !f.startsWith("."))).toEqual([filename]);
    const deleted = onTerminal(`backup delete ${filename}`, "y\n");
    expect(deleted.code).toBe(0);
    expect(deleted.output).toContain(`deleted ${filename} of database default`);
    expect(readdirSync(path.join(dir, "backups", "default"))).toEqual([]);
  });
});
