import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeBackup } from "../../src/services/backup/create.js";
import { nextPrefixedName } from "../../src/services/backup/files.js";
import { recoveryKit } from "../../src/services/offsite/kit.js";
import { createTestApp, makeTempDir, removeDir } from "../helpers/app.js";
import { runCli, SERVER_ARGV } from "../helpers/cli.js";
import { insertNode, withDb } from "../helpers/data.js";
import { ageKeyPair, startTestStore, TEST_CREDENTIALS, type TestStore } from "../helpers/s3.js";

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => T | null | undefined | false, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = probe();
    if (got) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * A scheduled backup's incremental copy, made by a real server process that is SIGKILLed while the copy's packs
 * go up (its manifest, written last, not yet stored), then started again: nothing of the killed attempt is taken
 * for a copy, the copy is redone, and a new host rebuilds it to the backup's bytes.
 */
describe("an incremental off-site copy killed mid-way (a real server, SIGKILL)", { timeout: 120_000 }, () => {
  let store: TestStore;
  let keyDir: string;
  let dataDir: string;
  let apiKey = "";
  let backup = { filename: "", sha256: "" };
  let install = "";
  let kit = "";
  let server: ChildProcess | undefined;
  let url = "";
  const dirs: string[] = [];

  const env = (dir: string, identityFile: string): NodeJS.ProcessEnv => {
    const { CHAOSCYPHER_DATA_DIR: _d, LOG_LEVEL: _l, HOST: _h, PORT: _p, ...base } = process.env;
    return {
      ...base,
      ...TEST_CREDENTIALS,
      CHAOSCYPHER_DATA_DIR: dir,
      CHAOSCYPHER_S3_BUCKET: store.bucket,
      CHAOSCYPHER_S3_ENDPOINT: store.endpoint,
      CHAOSCYPHER_S3_FORCE_PATH_STYLE: "true",
      CHAOSCYPHER_S3_RETRY_BASE_MS: "100",
      CHAOSCYPHER_S3_RETRY_MAX_MS: "500",
      CHAOSCYPHER_AGE_RECIPIENTS: readFileSync(path.join(keyDir, "recipient"), "utf8"),
      CHAOSCYPHER_AGE_IDENTITY_FILE: identityFile,
      LOG_LEVEL: "info",
      HOST: "127.0.0.1",
      PORT: "0",
    };
  };

  async function startServer(): Promise<ChildProcess> {
    const child = spawn(process.execPath, SERVER_ARGV, {
      env: env(dataDir, path.join(keyDir, "key.txt")),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (chunk) => {
      out += chunk;
    });
    child.stderr?.on("data", (chunk) => {
      out += chunk;
    });
    const exited = once(child, "exit").then(() => {
      throw new Error(`server exited:\n${out.slice(-3000)}`);
    });
    const listening = until("the server to listen", () => {
      const line = out.split("\n").find((l) => l.includes('"msg":"listening"'));
      return line ? (JSON.parse(line) as { url: string }).url : null;
    });
    url = await Promise.race([listening, exited]);
    server = child;
    return child;
  }

  async function kill(child: ChildProcess) {
    const gone = once(child, "exit");
    child.kill("SIGKILL");
    await gone;
    server = undefined;
  }

  const ownKeys = (folder: "db" | "packs") =>
    store.keys().filter((k) => k.includes(`/v2/${install}/${folder}/default/`));
  const manifestKey = () => ownKeys("db").find((k) => k.endsWith(`/${backup.filename}.pages`));
  const backupDir = () => path.join(dataDir, "backups/default");
  const record = () => {
    const file = path.join(backupDir(), `.${backup.filename}.offsite.json`);
    return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { state: string; sha256?: string }) : null;
  };

  beforeAll(async () => {
    store = await startTestStore();
    keyDir = makeTempDir("cc-age-");
    const { identityFile, recipient } = ageKeyPair(keyDir);
    writeFileSync(path.join(keyDir, "recipient"), recipient);
    dataDir = makeTempDir("cc-killed-copy-");
    // A host with a database of a few packs (12 MiB) and one scheduled (page-preserving) backup not copied yet.
    const t = createTestApp({ dataDir });
    apiKey = (await t.setupOperator()).key;
    await withDb(t.services, "default", (db) =>
      db.transaction((tx) => {
        for (let i = 0; i < 4000; i++) insertNode(tx as never, `note ${i} ${"x".repeat(1500)}`);
      }),
    );
    const made = await writeBackup(t.services, "default", nextPrefixedName("auto"), "pages");
    backup = { filename: made.filename, sha256: made.sha256 };
    install = t.services.instance.id;
    kit = path.join(keyDir, "kit.txt");
    writeFileSync(kit, recoveryKit(t.services, identityFile), { mode: 0o600 });
    await t.close();
  }, 120_000);

  afterAll(async () => {
    if (server) await kill(server);
    await store?.close();
    for (const dir of [keyDir, dataDir, ...dirs]) if (dir) removeDir(dir);
  });

  it("leaves no manifest and no done record, redoes the copy at the next start, and the copy rebuilds byte for byte", async () => {
    // The server starts, verifies the backup and copies it; it is killed once the first pack is stored.
    const first = await startServer();
    await until("the first pack in the store", () => ownKeys("packs").length > 0);
    await kill(first);

    // Killed mid-way: packs in the store, but no manifest (written last) and no record saying done.
    expect(manifestKey()).toBeUndefined();
    expect(record()?.state).toBe("uploading");
    const listed = await runCli(["offsite", "list", "--json"], { env: env(dataDir, path.join(keyDir, "key.txt")) });
    expect(listed.code).toBe(0);
    const remote = JSON.parse(listed.stdout) as { backups: { filename: string }[] };
    expect(remote.backups.map((b) => b.filename)).not.toContain(backup.filename);

    // Started again: the copy is redone, the killed attempt's manifest temp is gone, and the list shows the copy.
    await startServer();
    await until("the copy to be done", () => record()?.state === "done");
    expect(record()?.sha256).toBe(backup.sha256);
    expect(manifestKey()).toBeDefined();
    expect(readdirSync(backupDir()).filter((n) => /\.pages(-body)?\.tmp-/.test(n))).toEqual([]);
    const res = await fetch(`${url}/api/v1/offsite`, { headers: { authorization: `Bearer ${apiKey}` } });
    const copies = ((await res.json()) as { backups: { filename: string; sha256: string }[] }).backups;
    expect(copies.find((b) => b.filename === backup.filename)?.sha256).toBe(backup.sha256);

    // A new host with the recovery kit rebuilds it through the CLI: the backup's bytes, every pack found.
    const fresh = makeTempDir("cc-new-host-");
    dirs.push(fresh);
    const fetched = await runCli(["offsite", "fetch", backup.filename, "--install", install, "--json"], {
      env: env(fresh, kit),
    });
    expect(fetched.code, fetched.stderr).toBe(0);
    const rebuilt = readFileSync(path.join(fresh, "backups/default", backup.filename));
    expect(sha256(rebuilt)).toBe(backup.sha256);
    expect(sha256(rebuilt)).toBe(sha256(readFileSync(path.join(backupDir(), backup.filename))));
  });
});
