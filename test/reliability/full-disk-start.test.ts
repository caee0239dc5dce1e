import { spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBackup } from "../../src/services/backup/index.js";
import { createTestApp, makeTempDir, removeDir } from "../helpers/app.js";
import { SERVER_ARGV } from "../helpers/cli.js";
import { ageKeyPair, offsiteConfig, startTestStore, TEST_CREDENTIALS, type TestStore } from "../helpers/s3.js";
import { fillDisk, mountTmpfs, unmount } from "../helpers/tmpfs.js";

const mountPoint = makeTempDir("cc-full-start-");
const unmountable = mountTmpfs(mountPoint);
if (unmountable) console.log(`full-disk start test skipped: ${unmountable}`);

/**
 * A self-hoster's server restarted (a crash, a reboot) while the disk is full must come up: it serves what it
 * has, answers 507 to writes, says why in its log, and goes on by itself once space is back. The server runs
 * as its own process on a real tmpfs, with an off-site copy due (its record write is one of the start's writes).
 */
describe.skipIf(unmountable !== null)("the server on a full disk", () => {
  const dataDir = path.join(mountPoint, "data");
  let store: TestStore;
  let keyDir: string;
  let apiKey = "";
  let filename = "";
  let filler = "";
  let log = "";
  let server: ReturnType<typeof spawn> | undefined;
  let exited: number | null | undefined;

  beforeAll(async () => {
    mkdirSync(dataDir);
    store = await startTestStore();
    keyDir = makeTempDir("cc-age-");
    const { recipient } = ageKeyPair(keyDir);
    // A data dir that has been used: an operator, a backup (its operation lock file made), no off-site copy yet.
    const t = createTestApp({
      dataDir,
      config: { ...offsiteConfig(store, recipient), backupFreeMarginBytes: 1 << 20 },
    });
    apiKey = (await t.setupOperator()).key;
    filename = (await createBackup(t.services, "default")).filename;
    await t.close();
    filler = fillDisk(mountPoint);
    const { CHAOSCYPHER_DATA_DIR: _d, LOG_LEVEL: _l, HOST: _h, PORT: _p, ...env } = process.env;
    server = spawn(process.execPath, SERVER_ARGV, {
      env: {
        ...env,
        ...TEST_CREDENTIALS,
        CHAOSCYPHER_DATA_DIR: dataDir,
        CHAOSCYPHER_S3_BUCKET: store.bucket,
        CHAOSCYPHER_S3_ENDPOINT: store.endpoint,
        CHAOSCYPHER_S3_FORCE_PATH_STYLE: "true",
        CHAOSCYPHER_S3_RETRY_BASE_MS: "100",
        CHAOSCYPHER_S3_RETRY_MAX_MS: "500",
        CHAOSCYPHER_AGE_RECIPIENTS: recipient,
        CHAOSCYPHER_BACKUP_FREE_MARGIN_BYTES: String(1 << 20),
        LOG_LEVEL: "info",
        HOST: "127.0.0.1",
        PORT: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    server.stdout?.on("data", (chunk) => {
      log += chunk;
    });
    server.stderr?.on("data", (chunk) => {
      log += chunk;
    });
    server.once("exit", (code) => {
      exited = code;
    });
  }, 120_000);

  afterAll(async () => {
    if (server && exited === undefined) {
      const gone = new Promise((resolve) => server?.once("exit", resolve));
      server.kill("SIGTERM");
      await gone;
    }
    await store?.close();
    if (keyDir) removeDir(keyDir);
    unmount(mountPoint);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  /** Polls until `done` holds; fails at once with the server's log if it exited. */
  async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 90_000;
    while (!(await done())) {
      if (exited !== undefined) throw new Error(`the server exited (${exited}) while waiting for ${what}:\n${log}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within 90 s:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const url = () =>
    (JSON.parse(log.split("\n").find((l) => l.includes('"msg":"listening"')) ?? "{}") as { url: string }).url;
  const api = (route: string, method = "GET") =>
    fetch(`${url()}/api/v1${route}`, { method, headers: { authorization: `Bearer ${apiKey}` } });
  type Listed = { backups: { filename: string; offsite: { state: string } | null }[] };

  it("starts, says why in one line, answers 507 (not 500), and stays up through the off-site retry", async () => {
    await until("the listening line", () => log.includes('"msg":"listening"'));
    await until("the full-disk line", () => log.includes("the data dir's disk is full: serving read-only"));
    expect((await fetch(`${url()}/api/v1/health`)).status).toBe(200);
    // A cleanly closed WAL database cannot even be read without room for its shared-memory file: 507, said so.
    for (const [route, method] of [
      ["/backup", "GET"],
      ["/backup", "POST"],
    ] as const) {
      const refused = await api(route, method);
      expect({ route, method, status: refused.status }, log.slice(-3000)).toEqual({ route, method, status: 507 });
      expect(await refused.json()).toMatchObject({ error: "INSUFFICIENT_STORAGE" });
    }
    // The copy due at start fails on its record write (no space) and is retried; the process lives on.
    await until("a failed off-site attempt", () => log.includes('"msg":"off-site copy failed"'));
    expect((await fetch(`${url()}/api/v1/health`)).status).toBe(200);
  }, 120_000);

  it("goes on by itself once space is back: the list, a backup, and the pending copy reaches the store", async () => {
    rmSync(filler);
    const listed = await api("/backup");
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as Listed).backups.map((b) => b.filename)).toContain(filename);
    const created = await api("/backup", "POST");
    expect(created.status).toBe(200);
    await until("the off-site copy", async () => {
      const body = (await (await api("/backup")).json()) as Listed;
      return body.backups.find((b) => b.filename === filename)?.offsite?.state === "done";
    });
  }, 120_000);
});
