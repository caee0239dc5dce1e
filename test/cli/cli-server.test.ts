import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir, removeDir } from "../helpers/app.js";
import { type CliServer, oneLine, parseJson, runCli, startCliServer, waitForOutput } from "../helpers/cli.js";
import { FIRST, LATEST, seedDatabase, titles } from "../helpers/seed.js";

describe("chaoscypher serve and the CLI side by side", () => {
  let dir: string;
  let server: CliServer | null = null;
  afterEach(async () => {
    await server?.stop();
    server = null;
    removeDir(dir);
  });

  /** A control socket nobody answers on, as a server killed with SIGKILL leaves it. */
  async function staleSocket(file: string) {
    const holder = spawn(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(file)}, () => console.log("up"))`,
    ]);
    await once(holder.stdout, "data");
    holder.kill("SIGKILL");
    await once(holder, "close");
    expect(statSync(file).isSocket()).toBe(true);
  }

  it("every command but serve refuses a data dir that does not exist, and creates nothing", async () => {
    dir = makeTempDir("cc-cli-");
    const typo = path.join(dir, "typo");
    for (const args of [
      ["backup", "list"],
      ["status", "--json"],
      ["keys", "create", "--name", "k"],
    ]) {
      const result = await runCli([...args, "--data-dir", typo]);
      expect(result.code).toBe(2);
      expect(oneLine(result)).toBe(
        `chaoscypher: data directory ${typo} does not exist: check --data-dir or CHAOSCYPHER_DATA_DIR (only \`chaoscypher serve\` creates one)`,
      );
    }
    expect(existsSync(typo)).toBe(false);
  });

  it("with the server running, the CLI's writes go through it (restore included); a killed server's socket is ignored", async () => {
    dir = makeTempDir("cc-cli-");
    seedDatabase(dir, "default", { upTo: FIRST, titles: ["old"] });
    const socket = path.join(dir, "chaoscypher.sock");
    await staleSocket(socket);
    const down = parseJson<{ server: { running: boolean } }>(await runCli(["status", "--json", "--data-dir", dir]));
    expect(down.server.running).toBe(false);

    // The server replaces the stale socket with its own, readable by its user only.
    server = await startCliServer(dir);
    const started = server.cli;
    await waitForOutput(started, started.stdout, (text) => text.includes("control socket listening"));
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    const dbFile = path.join(dir, "databases", "default", "app.db");

    // The operator account and a key, made with the CLI through the server.
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

    const created = await runCli(["backup", "create", "--data-dir", dir, "--json"]);
    expect(created.code).toBe(0);
    const { filename } = parseJson<{ filename: string }>(created);
    seedDatabase(dir, "default", { titles: ["new"] }); // a write after the backup, from a short-lived connection
    const spare = parseJson<{ key: string }>(
      await runCli(["keys", "create", "--name", "x", "--data-dir", dir, "--json"]),
    );

    // The server restores: no OPERATION_IN_PROGRESS, and it keeps serving the restored database.
    const restored = await runCli(["backup", "restore", filename, "--yes", "--data-dir", dir, "--json"]);
    expect(restored.stderr).toBe("");
    expect(restored.code).toBe(0);
    expect(parseJson(restored)).toMatchObject({ database: "default", restored_from: filename });
    expect(titles(dbFile)).toEqual(["old"]);
    expect(titles(`${dbFile}.pre_restore`)).toEqual(["old", "new"]);
    expect(server.cli.stdout()).toContain('"operation":"backup.restore","via":"control_socket"');
    // Restoring `default` replaced the credentials with the backup's: the key minted after it is gone at once.
    expect((await get("/api/v1/backup", spare.key)).status).toBe(401);
    const listed = await get("/api/v1/backup");
    expect(listed.status).toBe(200);
    const backups = ((await listed.json()) as { backups: { kind: string }[] }).backups;
    expect(backups.filter((b) => b.kind === "pre-restore")).toHaveLength(1);

    const up = await runCli(["status", "--data-dir", dir]);
    expect(up.stdout).toContain("server: running on this data dir (scheduled backups run)");
    expect(up.stdout).toMatch(/next \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);

    // A key revoked through the server is refused from its next request on.
    expect((await runCli(["keys", "revoke", id, "--yes", "--data-dir", dir])).code).toBe(0);
    expect((await get("/api/v1/backup")).status).toBe(401);

    // Killed: its socket stays behind, nobody answers, and the CLI works on the data dir itself.
    server.cli.child.kill("SIGKILL");
    await server.cli.done;
    server = null;
    expect(statSync(socket).isSocket()).toBe(true);
    const alone = await runCli(["backup", "restore", filename, "--yes", "--data-dir", dir]);
    expect(alone.stderr).toBe("");
    expect(alone.code).toBe(0);
    const after = await runCli(["status", "--data-dir", dir]);
    expect(after.stdout).toContain("server: NOT running on this data dir");
    expect(after.stdout).not.toMatch(/next \d{4}/);
  }, 180_000);
});
