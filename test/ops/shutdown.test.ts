import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openSqlite } from "../../src/db/sqlite.js";
import { makeTempDir, removeDir } from "../helpers/app.js";
import { type CliServer, parseJson, runCli, startCliServer } from "../helpers/cli.js";
import { seedDatabase } from "../helpers/seed.js";

const FILLER_MIB = 300;

/** A database of a few hundred MiB, so a backup is still running when the signal arrives. */
function seedLarge(dir: string): string {
  seedDatabase(dir, "default", { titles: ["kept"] });
  const file = path.join(dir, "databases", "default", "app.db");
  const sqlite = openSqlite(file);
  sqlite.exec("CREATE TABLE filler (b BLOB)");
  sqlite
    .prepare(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) " +
        "INSERT INTO filler SELECT randomblob(1048576) FROM n",
    )
    .run(FILLER_MIB);
  sqlite.close();
  return file;
}

function integrity(file: string): string {
  const sqlite = openSqlite(file, { readonly: true });
  try {
    return sqlite.pragma("integrity_check", { simple: true }) as string;
  } finally {
    sqlite.close();
  }
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe("SIGTERM on a real server process", () => {
  let dir: string;
  let server: CliServer | null = null;
  afterEach(async () => {
    if (server && server.cli.child.exitCode === null) server.cli.child.kill("SIGKILL");
    server = null;
    removeDir(dir);
  });

  async function startWithKey(env: NodeJS.ProcessEnv) {
    const auth = ["--username", "operator", "--password", "correct horse", "--data-dir", dir];
    expect((await runCli(["auth", "setup", ...auth])).code).toBe(0);
    const { key } = parseJson<{ key: string }>(
      await runCli(["keys", "create", "--name", "t", "--scope", "operate", "--data-dir", dir, "--json"]),
    );
    server = await startCliServer(dir, env);
    const url = server.url;
    return () => fetch(`${url}/api/v1/backup`, { method: "POST", headers: { authorization: `Bearer ${key}` } });
  }

  it("during a large backup: exit 0, no temp file, no WAL left, the database intact", async () => {
    dir = makeTempDir("cc-shutdown-");
    const live = seedLarge(dir);
    const backupDir = path.join(dir, "backups", "default");
    const backup = await startWithKey({ CHAOSCYPHER_SHUTDOWN_TIMEOUT_MS: "100" });
    const answered = backup().then(
      (res) => res.status,
      () => "no answer",
    );
    const temps = () => readdirSync(backupDir).filter((name) => name.includes(".tmp-"));
    await until(() => temps().length > 0);
    server?.cli.child.kill("SIGTERM");
    const exited = await server?.cli.done;

    expect(exited?.code).toBe(0);
    expect(exited?.stdout).toContain('"msg":"stopped"');
    // Cut off by the timeout the request is told so (503); finished in time it is a normal 200.
    expect([200, 503]).toContain(await answered);
    expect(temps()).toEqual([]);
    expect(statSync(`${live}-wal`, { throwIfNoEntry: false })?.size ?? 0).toBe(0);
    expect(integrity(live)).toBe("ok");
    for (const name of readdirSync(backupDir).filter((n) => n.startsWith("app_"))) {
      expect(integrity(path.join(backupDir, name))).toBe("ok");
    }
  });

  it("a second signal exits at once", async () => {
    dir = makeTempDir("cc-shutdown-");
    seedLarge(dir);
    const backup = await startWithKey({});
    void backup().catch(() => undefined);
    await until(() => readdirSync(path.join(dir, "backups", "default")).some((n) => n.includes(".tmp-")));
    server?.cli.child.kill("SIGTERM");
    await until(() => server?.cli.stdout().includes("shutting down") ?? false);
    server?.cli.child.kill("SIGTERM");
    const exited = await server?.cli.done;
    expect(exited?.code).toBe(1);
    expect(exited?.stdout).toContain("second signal: exiting now");
  });
});
