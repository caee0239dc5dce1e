import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ageKeyPair, startTestStore, TEST_CREDENTIALS, type TestStore } from "../helpers/s3.js";
import type { Prng } from "./prng.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const DAY = 86_400_000;
const START_TIMEOUT_MS = 90_000;

/** What one HTTP call or CLI command answered, kept for the I5 check and the step log. */
export interface Outcome {
  what: string;
  status: number | null;
  body?: unknown;
  /** The child was killed by the harness, or the server was: its answer means nothing. */
  killed?: boolean;
  stderr?: string;
}

/**
 * How the server and the CLI are run: in the test suite, its own build of the sources (test/setup/build-sources.ts);
 * else the built ones (dist/) when present and preferred, else from sources through tsx.
 */
export function entryPoints(preferBuilt: boolean): { server: string[]; cli: string[]; built: boolean } {
  const suite = process.env.CHAOSCYPHER_TEST_BUILD;
  // The suite's build is the sources: a replay runs them with --sources.
  if (suite) return { server: [path.join(suite, "main.js")], cli: [path.join(suite, "cli/entry.js")], built: false };
  const built =
    preferBuilt && existsSync(path.join(REPO, "dist/main.js")) && existsSync(path.join(REPO, "dist/cli/entry.js"));
  if (built) return { server: [path.join(REPO, "dist/main.js")], cli: [path.join(REPO, "bin/chaoscypher.js")], built };
  return {
    server: ["--import", "tsx", path.join(REPO, "src/main.ts")],
    cli: ["--import", "tsx", path.join(REPO, "src/cli/entry.ts")],
    built,
  };
}

export interface WorldOptions {
  preferBuilt: boolean;
  /** Mount a small tmpfs for the data dir (root only), so the disk can be filled. */
  tmpfs: boolean;
  /** Derived from the run's seed: each server or CLI started gets the next seed for its names (deps.ids). */
  processSeeds?: Prng;
}

/**
 * The real parts the chaos run drives: a data dir (on a 64 MiB tmpfs when root), s3rver, an age key, the server
 * and the CLI as child processes, a second install's data dir on the same bucket, and the ledger writer.
 */
export class World {
  readonly root = path.join(tmpdir(), `cc-chaos-${process.pid}-${Date.now()}`);
  readonly disk: string;
  readonly dataDir: string;
  readonly install2: string;
  readonly clockFile: string;
  readonly ledgerFile: string;
  readonly ballast: string;
  readonly entries: ReturnType<typeof entryPoints>;
  mounted = false;
  store!: TestStore;
  identityFile = "";
  recipient = "";
  apiKey = "";
  url = "";
  server: ChildProcess | null = null;
  serverLog = "";
  writer: ChildProcess | null = null;
  #writerLines: string[] = [];
  #writerWaiters: (() => void)[] = [];
  writerNext = 0;
  clockOffsetMs = 0;
  ballastBytes = 0;
  storeUp = true;
  /** The CLI command running now (a fault may kill it when it sees what it waits for). */
  cliChild: ChildProcess | null = null;
  /** A third data dir that only fetches the first install's copies with its recovery kit (a new host). */
  readonly recoveryDir: string;
  readonly kitFile: string;
  readonly notes: string[] = [];

  constructor(readonly options: WorldOptions) {
    mkdirSync(this.root, { recursive: true });
    this.disk = path.join(this.root, "disk");
    mkdirSync(this.disk);
    if (options.tmpfs) this.#mountTmpfs();
    this.dataDir = path.join(this.disk, "data");
    this.ballast = path.join(this.disk, "ballast");
    this.install2 = path.join(this.root, "install2");
    this.clockFile = path.join(this.root, "clock-offset");
    this.ledgerFile = path.join(this.root, "ledger");
    this.recoveryDir = path.join(this.root, "recovery");
    this.kitFile = path.join(this.root, "kit.txt");
    writeFileSync(this.clockFile, "0");
    writeFileSync(this.ledgerFile, "");
    this.entries = entryPoints(options.preferBuilt);
  }

  #mountTmpfs(): void {
    if (process.getuid?.() !== 0) {
      this.notes.push("not root: no tmpfs, the disk-full fault is skipped");
      return;
    }
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", this.disk], { stdio: "ignore" });
      this.mounted = true;
    } catch {
      this.notes.push("tmpfs could not be mounted: the disk-full fault is skipped");
    }
  }

  get liveDb(): string {
    return path.join(this.dataDir, "databases/default/app.db");
  }
  get backupDir(): string {
    return path.join(this.dataDir, "backups/default");
  }
  get dbDir(): string {
    return path.join(this.dataDir, "databases/default");
  }
  /** The first install's id (its `instance.json`), once a process has written it. */
  installId(dataDir = this.dataDir): string | null {
    try {
      return (JSON.parse(readFileSync(path.join(dataDir, "instance.json"), "utf8")) as { id: string }).id;
    } catch {
      return null;
    }
  }

  env(dataDir = this.dataDir): NodeJS.ProcessEnv {
    const { CHAOSCYPHER_DATA_DIR: _d, LOG_LEVEL: _l, HOST: _h, PORT: _p, NODE_ENV: _n, ...base } = process.env;
    return {
      ...base,
      ...TEST_CREDENTIALS,
      CHAOSCYPHER_DATA_DIR: dataDir,
      CHAOSCYPHER_TEST_CLOCK_FILE: this.clockFile,
      // A new seed per process: two processes (or two starts) never replay each other's names.
      ...(this.options.processSeeds ? { CHAOSCYPHER_TEST_SEED: String(this.options.processSeeds.int(2 ** 32)) } : {}),
      CHAOSCYPHER_S3_BUCKET: this.store.bucket,
      CHAOSCYPHER_S3_ENDPOINT: this.store.endpoint,
      CHAOSCYPHER_S3_FORCE_PATH_STYLE: "true",
      CHAOSCYPHER_S3_RETRY_BASE_MS: "100",
      CHAOSCYPHER_S3_RETRY_MAX_MS: "1000",
      CHAOSCYPHER_AGE_RECIPIENTS: this.recipient,
      CHAOSCYPHER_AGE_IDENTITY_FILE: this.identityFile,
      CHAOSCYPHER_SHUTDOWN_TIMEOUT_MS: "3000",
      CHAOSCYPHER_BACKUP_FREE_MARGIN_BYTES: String(1024 * 1024),
      LOG_LEVEL: "info",
      HOST: "127.0.0.1",
      PORT: "0",
    };
  }

  async start(): Promise<void> {
    this.store = await startTestStore();
    ({ identityFile: this.identityFile, recipient: this.recipient } = ageKeyPair(this.root));
    // The CLI refuses a data dir that does not exist (only `serve` creates one): both installs get theirs here.
    for (const dir of [this.dataDir, this.install2]) mkdirSync(dir, { recursive: true });
    const setup = await this.cli(["auth", "setup", "--username", "chaos", "--password", "correct horse battery"]);
    if (setup.status !== 0) throw new Error(`auth setup failed: ${setup.stderr}`);
    const key = await this.cli(["keys", "create", "--name", "chaos", "--scope", "admin", "--json"]);
    this.apiKey = (key.body as { key: string }).key;
    await this.startServer();
    this.#startWriter();
  }

  /**
   * After a start failed with `error`: the failure is a finding (pushed to `found`), then the run heals what it
   * broke (frees the disk, brings the store back) and starts again, so one finding does not end the run. Throws
   * only when the server cannot start on a healed world either.
   */
  async healAndStart(found: string[], what: string, error: unknown): Promise<void> {
    let last = error;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const full = this.ballastBytes > 0 ? " on a full disk" : attempt > 1 ? " with the disk freed" : "";
      found.push(
        `I3 restart: ${what}: the server did not start${full}: ${String((last as Error)?.message).slice(-1500)}`,
      );
      this.fillDisk(null);
      if (!this.storeUp) await this.setStore(true);
      try {
        await this.startServer();
        return;
      } catch (next) {
        last = next;
      }
    }
    throw last;
  }

  /** Starts the server; a failure is recorded and healed as `healAndStart` says. */
  async startServerOrHeal(found: string[], what: string): Promise<void> {
    await this.startServer().catch((error: unknown) => this.healAndStart(found, what, error));
  }

  async startServer(): Promise<void> {
    const child = spawn(process.execPath, this.entries.server, { env: this.env(), stdio: ["ignore", "pipe", "pipe"] });
    this.server = child;
    let out = "";
    const listening = new Promise<string>((resolve, reject) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        out += chunk;
        this.serverLog = (this.serverLog + chunk).slice(-200_000);
        const line = out.split("\n").find((l) => l.includes('"msg":"listening"'));
        if (line) resolve((JSON.parse(line) as { url: string }).url);
      });
      child.stderr?.on("data", (chunk: Buffer) => {
        this.serverLog = (this.serverLog + chunk).slice(-200_000);
      });
      child.once("exit", (code) =>
        reject(new Error(`server exited (${code}) before listening:\n${this.serverLog.slice(-3000)}`)),
      );
    });
    // A start that hangs is a failed start too (killed, so the next attempt owns the data dir alone).
    const hung = setTimeout(() => child.kill("SIGKILL"), START_TIMEOUT_MS);
    try {
      this.url = await listening;
    } finally {
      clearTimeout(hung);
    }
  }

  async killServer(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.server;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill(signal);
    await exited;
    this.server = null;
  }

  /**
   * Freezes the server (SIGSTOP) until the returned function resumes it (SIGCONT): while frozen, nothing the first
   * install does changes the bucket, so a change seen there is the other process's.
   */
  pauseServer(): () => void {
    const child = this.server;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return () => {};
    child.kill("SIGSTOP");
    return () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGCONT");
    };
  }

  async restartServer(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    await this.killServer(signal);
    await this.startServer();
  }

  #startWriter(): void {
    const child = spawn(
      process.execPath,
      [path.join(REPO, "test/chaos/ledger-writer.mjs"), this.liveDb, this.ledgerFile, "0"],
      { cwd: REPO, stdio: ["pipe", "pipe", "inherit"] },
    );
    this.writer = child;
    let buffered = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      this.#writerLines.push(...lines);
      for (const wake of this.#writerWaiters.splice(0)) wake();
    });
  }

  /** Tells the writer to commit `k` rows, concurrently with whatever runs next; `await` the result to wait. */
  write(k: number): Promise<void> {
    this.#writerLines = [];
    this.writer?.stdin?.write(`w ${k}\n`);
    return new Promise((resolve) => {
      const check = () =>
        this.#writerLines.some((l) => l.startsWith("done")) ? resolve() : this.#writerWaiters.push(check);
      check();
    });
  }

  async http(
    method: string,
    route: string,
    body?: BodyInit | object,
    headers: Record<string, string> = {},
  ): Promise<Outcome & { raw?: Buffer }> {
    const what = `${method} ${route}`;
    const isJson = body !== undefined && !(body instanceof Uint8Array) && typeof body === "object";
    try {
      const response = await fetch(`${this.url}/api/v1${route}`, {
        method,
        headers: {
          authorization: `Bearer ${this.apiKey}`,
          ...(isJson ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        body: isJson ? JSON.stringify(body) : (body as BodyInit | undefined),
        signal: AbortSignal.timeout(60_000),
      });
      const raw = Buffer.from(await response.arrayBuffer());
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString("utf8"));
      } catch {
        parsed = undefined;
      }
      return { what, status: response.status, body: parsed, raw };
    } catch (error) {
      return { what, status: null, killed: true, stderr: String((error as Error).message) };
    }
  }

  /** Runs the real CLI; `killAfterMs` sends it SIGKILL then (the fault), `during` runs beside it. */
  async cli(
    args: string[],
    options: { dataDir?: string; killAfterMs?: number; during?: () => Promise<void>; env?: NodeJS.ProcessEnv } = {},
  ): Promise<Outcome> {
    const child = spawn(process.execPath, [...this.entries.cli, ...args], {
      env: { ...this.env(options.dataDir), ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.cliChild = child;
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c) => {
      stdout += c;
    });
    child.stderr?.on("data", (c) => {
      stderr += c;
    });
    let killed = false;
    const timer =
      options.killAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            killed = child.exitCode === null;
            child.kill("SIGKILL");
          }, options.killAfterMs);
    const closed = once(child, "close");
    await options.during?.();
    const [code] = (await closed) as [number | null];
    clearTimeout(timer);
    if (this.cliChild === child) this.cliChild = null;
    killed ||= child.signalCode === "SIGKILL";
    let body: unknown;
    try {
      body = JSON.parse(stdout);
    } catch {
      body = undefined;
    }
    return { what: `chaoscypher ${args.join(" ")}`, status: code, body, stderr, killed };
  }

  /**
   * Rebuilds (fetches) the first install's copy `filename` on the recovery data dir, as a new host given the
   * recovery kit would: the real CLI, the product's own checks. The fetched file is removed again afterwards.
   */
  async fetchAsNewHost(filename: string): Promise<{ outcome: Outcome; bytes: Buffer | null }> {
    if (!existsSync(this.kitFile)) {
      const kit = await this.cli(["offsite", "kit", "--out", this.kitFile]);
      if (kit.status !== 0) return { outcome: kit, bytes: null };
    }
    mkdirSync(this.recoveryDir, { recursive: true });
    const install = this.installId() ?? "";
    const outcome = await this.cli(["offsite", "fetch", filename, "--install", install, "--json"], {
      dataDir: this.recoveryDir,
      env: { CHAOSCYPHER_AGE_IDENTITY_FILE: this.kitFile },
    });
    const dir = path.join(this.recoveryDir, "backups/default");
    const file = path.join(dir, filename);
    const bytes = outcome.status === 0 && existsSync(file) ? readFileSync(file) : null;
    // The next check fetches it again: nothing of this fetch stays (the file and its records beside it).
    for (const name of existsSync(dir) ? readdirSync(dir) : []) {
      if (name === filename || name.startsWith(`.${filename}.`)) rmSync(path.join(dir, name), { force: true });
    }
    return { outcome, bytes };
  }

  setClockOffset(ms: number): void {
    this.clockOffsetMs = ms;
    writeFileSync(this.clockFile, String(ms));
  }

  /** Bytes free on the data dir's disk now. */
  freeBytes(): number {
    return Number(execFileSync("df", ["-B1", "--output=avail", this.disk]).toString().split("\n")[1]);
  }

  /** Fills the tmpfs until about `freeBytes` are left (0 ballast: the disk as it was). */
  fillDisk(freeBytes: number | null): void {
    rmSync(this.ballast, { force: true });
    this.ballastBytes = 0;
    if (freeBytes === null || !this.mounted) return;
    // The server writes meanwhile: a size that no longer fits is tried again a MiB smaller.
    for (let size = this.freeBytes() - freeBytes; size > 0; size -= 1024 * 1024) {
      try {
        execFileSync("fallocate", ["-l", String(size), this.ballast], { stdio: "ignore" });
        break;
      } catch {
        rmSync(this.ballast, { force: true });
      }
    }
    this.ballastBytes = existsSync(this.ballast) ? statSync(this.ballast).size : 0;
  }

  async setStore(up: boolean): Promise<void> {
    this.storeUp = up;
    if (up) await this.store.start();
    else await this.store.stop();
  }

  async stop(keep: boolean): Promise<void> {
    this.writer?.stdin?.end();
    this.writer?.kill("SIGKILL");
    await this.killServer("SIGTERM").catch(() => {});
    await this.store?.close().catch(() => {});
    if (this.mounted) {
      try {
        execFileSync("umount", ["-l", this.disk], { stdio: "ignore" });
      } catch {}
    }
    if (!keep) rmSync(this.root, { recursive: true, force: true });
  }
}

export const DAYS = (n: number) => n * DAY;
