import { cpSync } from "node:fs";
import type { ConfigInput } from "../../src/config.js";
import { loadConfig } from "../../src/config.js";
import { type FileOps, nodeFileOps } from "../../src/lib/durable-fs.js";
import { createLogger } from "../../src/logger.js";
import { listLeftPreRestores } from "../../src/services/backup/pre-restore.js";
import { removeUploadLeftovers } from "../../src/services/backup/upload.js";
import { createServiceDeps } from "../../src/services/create-deps.js";
import type { ServiceDeps, ServiceOverrides } from "../../src/services/deps.js";
import { removeFetchLeftovers } from "../../src/services/offsite/fetch.js";
import { TaskRunner } from "../../src/workers/run.js";
import { makeTempDir, removeDir } from "./app.js";
import { Crash, crashingFileOps } from "./faults.js";

export interface CrashLoop<T> {
  /** A data dir every run starts from (copied for each run, never changed). */
  fixture: string;
  /** Config of every "process" (e.g. the off-site store). */
  config?: ConfigInput;
  /** The file calls underneath the crashing wrapper (e.g. a filesystem without hard links). */
  base?: FileOps;
  /** Other services of the "process" that runs the operation (e.g. a restore hook that fails). */
  overrides?: Omit<ServiceOverrides, "fileOps">;
  /** The operation under test, in a "process" whose file calls crash at the N-th. */
  run(deps: ServiceDeps): Promise<T>;
  /** After start-up recovery: throws if the data dir breaks an invariant; returns a label of the state. */
  check(deps: ServiceDeps, outcome: { acknowledged: boolean }): string | Promise<string>;
}

/** The worker threads every "process" of a loop shares (one pool per test file, as in test/helpers/app.ts). */
const tasks = new TaskRunner();

/** A "process" on `dataDir`: its services, start-up recovery included (createServiceDeps runs it). */
function startProcess(dataDir: string, config: ConfigInput | undefined, overrides: ServiceOverrides): ServiceDeps {
  const loaded = loadConfig({}, { dataDir, logLevel: "silent", ...config });
  return createServiceDeps(loaded, createLogger("silent"), { tasks, ...overrides });
}

async function stopProcess(deps: ServiceDeps): Promise<void> {
  await deps.verifications.stop();
  deps.registry.closeAll();
}

/**
 * Crash points generated from the real code (TigerBeetle's simulated storage, in small): the operation runs with
 * file calls that crash the "process" at their N-th call, for N = 1, 2, … until a run makes fewer calls; after
 * each crash a new "process" starts on the same data dir, its start-up recovery itself crashed at its M-th call
 * for every M until one start completes; `check` then asserts the invariant. In-process, on copies of one
 * fixture: a run costs the services' start, not a server's. Returns one line per crash point: `call → state`.
 */
export async function crashAtEveryCall<T>(loop: CrashLoop<T>): Promise<string[]> {
  const lines: string[] = [];
  for (let crashAt = 1; ; crashAt++) {
    const dataDir = makeTempDir("cc-crash-");
    try {
      cpSync(loop.fixture, dataDir, { recursive: true });
      const crash = crashingFileOps(crashAt, loop.base ?? nodeFileOps);
      const deps = startProcess(dataDir, loop.config, { ...loop.overrides, fileOps: crash.ops });
      const answered = await loop.run(deps).then(
        () => true,
        (error: unknown) => {
          if (!(error instanceof Crash) && !crash.crashed()) throw error;
          return false;
        },
      );
      await stopProcess(deps);
      // A crash the code caught (a record it could not write, logged) still ended the "process" there.
      const crashed = crash.crashed();
      const at = crashed ? `a crash at ${crashed.call}` : "no crash";
      const { state, recoveryCrashes } = await restartAndCheck(loop, dataDir, answered && !crashed).catch(
        (error: Error) => {
          throw new Error(`after ${at} (call ${crashAt}): ${error.message}`, { cause: error });
        },
      );
      if (!crashed) return lines;
      lines.push(`${crashed.call} → ${state}${recoveryCrashes ? ` (recovery crashed ${recoveryCrashes}×)` : ""}`);
    } finally {
      removeDir(dataDir);
    }
  }
}

/** Start-up after the crash, itself crashed at each of its file calls in turn, until one start completes. */
async function restartAndCheck<T>(loop: CrashLoop<T>, dataDir: string, acknowledged: boolean) {
  for (let crashAt = 1; ; crashAt++) {
    const crash = crashingFileOps(crashAt);
    let deps: ServiceDeps | undefined;
    try {
      deps = startProcess(dataDir, loop.config, { fileOps: crash.ops });
      await startUpSweeps(deps);
    } catch (error) {
      if (!(error instanceof Crash)) throw error;
    }
    if (crash.crashed() || !deps) {
      if (deps) await stopProcess(deps);
      continue;
    }
    try {
      return { state: await loop.check(deps, { acknowledged }), recoveryCrashes: crashAt - 1 };
    } finally {
      await stopProcess(deps);
    }
  }
}

/**
 * What the server runs at start besides the registry's recovery: interrupted uploads and fetches removed, a
 * replaced database no restore listed yet listed as a backup.
 */
async function startUpSweeps(deps: ServiceDeps): Promise<void> {
  for (const database of deps.registry.names()) {
    await removeUploadLeftovers(deps, database);
    await removeFetchLeftovers(deps.paths.backupDir(database), deps.fileOps);
  }
  await listLeftPreRestores(deps);
}
