import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readdirSync, readFileSync, watch, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { openSqlite } from "../../src/db/connection.js";
import { makeTempDir, removeDir } from "../helpers/app.js";
import { type CliServer, parseJson, runCli, spawnCli, startCliServer } from "../helpers/cli.js";
import { TEST_CREDENTIALS, useTestStore } from "../helpers/s3.js";
import { seedDatabase, seedDatabaseFile } from "../helpers/seed.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// A push and a fetch through s3rver with a server starting beside them take ~12 s alone and over 30 s on a loaded machine.
const LOADED_TIMEOUT = 90_000;
const DURABLE_FS = new URL("../../src/lib/durable-fs.ts", import.meta.url).href;
/** Writes its file atomically in a loop until SIGTERM; any failure (a rename whose temp was swept) exits 1. */
const WRITER = `
const { writeFileAtomic } = await import(${JSON.stringify(DURABLE_FS)});
let stop = false;
process.on("SIGTERM", () => { stop = true; });
console.log("writing");
try {
  // Large enough that its temp file exists most of the time (a sweep then finds it in flight).
  const padding = "x".repeat(4 << 20);
  let n = 0;
  for (; !stop; n++) await writeFileAtomic(process.argv[1], JSON.stringify({ n, padding }));
  console.log("wrote", n);
} catch (error) {
  console.error(String(error));
  process.exit(1);
}
`;

/** Resolves with the first name in `dir` matching `pattern`, as soon as it appears (fs.watch, not a poll). */
function appears(dir: string, pattern: RegExp): Promise<string> {
  return new Promise((resolve) => {
    const watcher = watch(dir, (_event, name) => {
      if (name && pattern.test(name)) {
        watcher.close();
        resolve(name);
      }
    });
    const already = readdirSync(dir).find((name) => pattern.test(name));
    if (already) {
      watcher.close();
      resolve(already);
    }
  });
}

/** About `mib` MiB of incompressible rows, so a copy of the database takes long enough to be caught in flight. */
function grow(file: string, mib: number): void {
  const sqlite = openSqlite(file);
  try {
    sqlite.exec("CREATE TABLE filler (b BLOB)");
    sqlite.exec(
      `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ${mib}) INSERT INTO filler SELECT randomblob(1048576) FROM n`,
    );
  } finally {
    sqlite.close();
  }
}

describe("a CLI command beside a running server (I4: no process removes what another live one holds)", () => {
  const s3 = useTestStore();
  const dirs: string[] = [];
  let server: CliServer | undefined;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });
  afterAll(() => {
    for (const dir of dirs) removeDir(dir);
  });

  const env = () => ({
    ...TEST_CREDENTIALS,
    CHAOSCYPHER_S3_BUCKET: s3.store.bucket,
    CHAOSCYPHER_S3_ENDPOINT: s3.store.endpoint,
    CHAOSCYPHER_S3_FORCE_PATH_STYLE: "true",
    CHAOSCYPHER_S3_PREFIX: "beside/",
    CHAOSCYPHER_S3_RETRY_BASE_MS: "100",
    CHAOSCYPHER_AGE_RECIPIENTS: s3.keys.recipient,
    CHAOSCYPHER_AGE_IDENTITY_FILE: s3.keys.identityFile,
  });
  const dataDir = (mib = 0) => {
    const dir = makeTempDir();
    dirs.push(dir);
    seedDatabase(dir, "default", { titles: ["beside the server"] });
    if (mib > 0) grow(path.join(dir, "databases", "default", "app.db"), mib);
    return dir;
  };
  const backupDir = (dir: string) => path.join(dir, "backups", "default");
  const createBackup = async (dir: string) =>
    parseJson<{ filename: string }>(await runCli(["backup", "create", "--json", "--data-dir", dir])).filename;
  const offsiteRecord = (dir: string, filename: string) => {
    const file = path.join(backupDir(dir), `.${filename}.offsite.json`);
    return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { state: string; attempts: number }) : null;
  };

  /** Runs `args`, stops the CLI the moment its temp file appears, starts the server, then lets the CLI go on. */
  async function startServerDuring(dir: string, args: string[], temp: RegExp) {
    const seen = appears(backupDir(dir), temp);
    const cli = spawnCli([...args, "--json", "--data-dir", dir], { env: env() });
    const name = await seen;
    cli.child.kill("SIGSTOP");
    try {
      expect(existsSync(path.join(backupDir(dir), name))).toBe(true);
      server = await startCliServer(dir, env());
    } finally {
      cli.child.kill("SIGCONT");
    }
    return cli.done;
  }

  it("starting the server leaves a CLI import's temp file alone, and the import succeeds", async () => {
    const dir = dataDir();
    const source = path.join(makeTempDir(), "import.db");
    dirs.push(path.dirname(source));
    seedDatabaseFile(source, { wal: false });
    grow(source, 16);
    const result = await startServerDuring(dir, ["backup", "import", source], /^\.upload\.tmp-/);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const imported = parseJson<{ filename: string }>(result).filename;
    expect(existsSync(path.join(backupDir(dir), imported))).toBe(true);
  });

  it(
    "starting the server leaves a CLI fetch's temp file alone, and the fetch succeeds",
    async () => {
      const old = dataDir(12);
      const filename = await createBackup(old);
      expect((await runCli(["offsite", "push", "--data-dir", old], { env: env() })).code).toBe(0);
      const fresh = dataDir();
      const result = await startServerDuring(
        fresh,
        ["offsite", "fetch", filename, "--accept-unauthenticated"],
        /\.fetch-/,
      );
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(existsSync(path.join(backupDir(fresh), filename))).toBe(true);
    },
    LOADED_TIMEOUT,
  );

  it("a CLI command leaves another process's atomic writes in flight alone and sweeps a dead process's", async () => {
    const dir = dataDir();
    const schedules = path.join(dir, "schedules");
    mkdirSync(schedules, { recursive: true });
    // A process writing the schedule state over and over with the real writeFileAtomic, as the server does.
    const writer = spawn(
      process.execPath,
      ["--import", "tsx", "-e", WRITER, path.join(schedules, "default.state.json")],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    writer.stdout?.on("data", (chunk) => {
      output += chunk;
    });
    writer.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    const exited = once(writer, "close");
    while (!output.includes("writing")) await sleep(25);
    const deadPid = spawnSync(process.execPath, ["-e", ""]).pid as number;
    const dead = path.join(schedules, `.default.json.tmp-${deadPid}-0a1b2c3d`);
    writeFileSync(dead, "{}");
    for (let i = 0; i < 3; i++) expect((await runCli(["schedule", "show", "--data-dir", dir])).code).toBe(0);
    writer.kill("SIGTERM");
    const [code] = await exited;
    expect(output).not.toMatch(/ENOENT/);
    expect(code).toBe(0);
    // A temp whose writer is gone is a leftover, swept by the same command.
    expect(existsSync(dead)).toBe(false);
  });

  it(
    "a CLI push never uploads a backup the server is uploading, nor aborts the server's upload",
    async () => {
      const dir = dataDir(12);
      const filename = await createBackup(dir);
      const release = s3.store.holdParts();
      try {
        // The server's start-up scan queues the copy; its first part is held by the store: an upload in flight.
        server = await startCliServer(dir, env());
        while (s3.store.incompleteUploads().length === 0) await sleep(25);
        const serverUpload = s3.store.incompleteUploads();
        expect(offsiteRecord(dir, filename)?.state).toBe("uploading");

        const cli = spawnCli(["offsite", "push", "--json", "--data-dir", dir], { env: env() });
        let exited = false;
        void cli.done.then(() => {
          exited = true;
        });
        // Either the CLI leaves it alone and ends, or it touches the multipart uploads (aborts, begins its own).
        while (!exited && s3.store.incompleteUploads().join() === serverUpload.join()) await sleep(25);
        release();
        const result = await cli.done;
        expect(result.code).toBe(0);
        expect(parseJson<{ results: { filename: string; state: string }[] }>(result).results).toEqual([
          expect.objectContaining({ filename, state: "busy" }),
        ]);
      } finally {
        release();
      }
      while (offsiteRecord(dir, filename)?.state !== "done") await sleep(50);
      expect(offsiteRecord(dir, filename)?.attempts).toBe(1);
      expect(s3.store.incompleteUploads()).toEqual([]);
      expect(execFileSync("ls", ["-a", backupDir(dir)], { encoding: "utf8" })).not.toMatch(/\.tmp-|\.fetch-/);
    },
    LOADED_TIMEOUT,
  );
});
