import type { Config } from "../config.js";
import type { AppDb } from "../db/connection.js";
import type { Migration } from "../db/migrations.js";
import type { DataPaths } from "../db/paths.js";
import type { DatabaseRegistry } from "../db/registry.js";
import type { ServerSettings } from "../db/server-settings.js";
import type { UpgradeStateStore } from "../db/upgrade-state.js";
import type { Clock } from "../lib/clock.js";
import type { FileOps } from "../lib/durable-fs.js";
import type { Ids } from "../lib/ids.js";
import type { Logger } from "../logger.js";
import type { TaskRunner } from "../workers/run.js";
import type { AuthRuntime } from "./auth/runtime.js";
import type { VerificationQueue } from "./backup/verification.js";
import type { ServiceEvents } from "./events/index.js";
import type { InstallIdentity } from "./instance/index.js";
import type { OperationLocks } from "./locks.js";
import type { OffsiteService } from "./offsite/service.js";
import type { SchedulerHandle } from "./schedules/scheduler.js";
import type { BackgroundWork } from "./shutdown.js";

export type { FileOps } from "../lib/durable-fs.js";

/** Work other modules attach to a restore; each step runs with the holder's gate closed. */
export interface RestoreHook {
  /** Before the files are swapped. */
  beforeSwap?(deps: ServiceDeps, database: string): Promise<void>;
  /** After the new file opened (migrated), before the gate opens; throwing rolls the restore back. */
  afterOpen?(deps: ServiceDeps, database: string, db: AppDb): Promise<void>;
}

/** What a caller (a test, the CLI) may put in place of the defaults; a partial `fileOps` keeps the other calls real. */
export type ServiceOverrides = Partial<Omit<ServiceDeps, "fileOps">> & { fileOps?: Partial<FileOps> };

/** Everything the domain verbs need, built once at start and passed in. */
export interface ServiceDeps {
  config: Config;
  logger: Logger;
  paths: DataPaths;
  registry: DatabaseRegistry;
  locks: OperationLocks;
  migrations: Migration[];
  settings: ServerSettings;
  upgradeStates: UpgradeStateStore;
  fileOps: FileOps;
  /** Wall time, timers and durations: every read of the time goes through it, so a test can move it. */
  clock: Clock;
  /** Random names of temp, staged and set-aside files. */
  ids: Ids;
  /** `clock.date()`: kept for the callers that only need the current time. */
  now: () => Date;
  auth: AuthRuntime;
  restoreHooks: RestoreHook[];
  /** Outcomes of backups, restores and background work, for observers (metrics, alerts, follow-up jobs). */
  events: ServiceEvents;
  /** This process's worker threads: every copy, hash, check and migration runs through it. */
  tasks: TaskRunner;
  /**
   * The one owner of this process's background work: each part (worker threads, verification queue, off-site
   * queue, scheduler, notifier) registers its start and stop here; the server starts them and stops them on SIGTERM.
   */
  shutdown: BackgroundWork;
  /** Background verification of backups (docs/backups.md); idle until `start`ed by the server. */
  verifications: VerificationQueue;
  /** This install's id and off-site key (data dir's instance.json/offsite.key, made at first start). */
  instance: InstallIdentity;
  /** The off-site copy queue (docs/offsite.md); absent when CHAOSCYPHER_S3_BUCKET is not set. Started by the server only. */
  offsite?: OffsiteService;
  /** The server's schedule timers (absent in the CLI): told when a schedule changes, asked for the next run. */
  scheduler?: SchedulerHandle;
}
