import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir, removeDir } from "../helpers/app.js";
import { type CliServer, oneLine, parseJson, runCli, startCliServer } from "../helpers/cli.js";
import { FIRST, LATEST, seedDatabase, titles } from "../helpers/seed.js";

describe("chaoscypher serve and the CLI side by side", () => {
  let dir: string;
  let server: CliServer | null = null;
  afterEach(async () => {
    await server?.stop();
    server = null;
    removeDir(dir);
  });

  it("serve upgrades on start; a CLI restore is refused while it runs and succeeds once it is stopped", async () => {
    dir = makeTempDir("cc-cli-");
    seedDatabase(dir, "default", { upTo: FIRST, titles: ["old"] });
    server = await startCliServer(dir);
    const dbFile = path.join(dir, "databases", "default", "app.db");

    // The operator account and a key, made with the CLI while the server runs (WAL lets both write).
    const setup = await runCli([
      "auth",
      "setup",
      "--username",
      "operator",
      "--password",
      "correct horse",
      "--data-dir",
      dir,
    ]);
    expect(setup.code).toBe(0);
    const minted = await runCli(["keys", "create", "--name", "test", "--data-dir", dir, "--json"]);
    const { id, key } = parseJson<{ id: string; key: string }>(minted);
    const get = (url: string, bearer = key) =>
      fetch(`${server?.url}${url}`, { headers: { authorization: `Bearer ${bearer}` } });

    const pending = await get("/api/v1/upgrade/pending");
    expect(pending.status).toBe(200);
    expect(await pending.json()).toMatchObject({
      databases: [{ database: "default", state: "up_to_date", revision: LATEST }],
    });
    expect(readdirSync(path.join(dir, "backups", "default")).filter((f) => !f.startsWith("."))).toEqual([
      expect.stringMatching(`^pre-${LATEST}-`),
    ]);

    // Backups are fine alongside the server: VACUUM INTO reads a consistent snapshot.
    const created = await runCli(["backup", "create", "--data-dir", dir, "--json"]);
    expect(created.code).toBe(0);
    const { filename } = parseJson<{ filename: string }>(created);
    seedDatabase(dir, "default", { titles: ["new"] }); // a write after the backup, from a short-lived connection

    const refused = await runCli(["backup", "restore", filename, "--yes", "--data-dir", dir, "--json"]);
    expect(refused.code).toBe(1);
    expect(oneLine(refused)).toBe('chaoscypher: another process has database "default" open; stop it before restoring');
    expect(parseJson(refused)).toMatchObject({ error: "OPERATION_IN_PROGRESS" });
    expect(existsSync(`${dbFile}.pre_restore`)).toBe(false);
    expect(titles(dbFile)).toEqual(["old", "new"]);
    expect((await get("/api/v1/backup")).status).toBe(200);

    // A key revoked by the CLI is refused by the running server from its next request on.
    const spare = parseJson<{ key: string }>(
      await runCli(["keys", "create", "--name", "x", "--data-dir", dir, "--json"]),
    );
    expect((await runCli(["keys", "revoke", id, "--yes", "--data-dir", dir])).code).toBe(0);
    expect((await get("/api/v1/backup")).status).toBe(401);

    const stopped = await server.stop();
    server = null;
    expect(stopped.code).toBe(0);
    const restored = await runCli(["backup", "restore", filename, "--yes", "--data-dir", dir]);
    expect(restored.code).toBe(0);
    expect(titles(dbFile)).toEqual(["old"]);
    expect(titles(`${dbFile}.pre_restore`)).toEqual(["old", "new"]);

    // The restored backup predates the spare key: restoring `default` replaced the credentials with the backup's.
    server = await startCliServer(dir);
    expect((await get("/api/v1/backup", spare.key)).status).toBe(401);
    const fresh = parseJson<{ key: string }>(
      await runCli(["keys", "create", "--name", "y", "--data-dir", dir, "--json"]),
    );
    const listed = await get("/api/v1/backup", fresh.key);
    const backups = ((await listed.json()) as { backups: { kind: string }[] }).backups;
    // The database the restore replaced is listed too, as a backup of its own kind.
    expect(backups.filter((b) => b.kind !== "pre-restore")).toHaveLength(2);
    expect(backups.filter((b) => b.kind === "pre-restore")).toHaveLength(1);
  });
});
