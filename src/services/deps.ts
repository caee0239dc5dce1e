import type { Config } from "../config.js";
import type { AppDb } from "../db/connection.js";
import type { Migration } from "../db/migrations.js";
import type { DataPaths } from "../db/paths.js";
import type { DatabaseRegistry } from "../db/registry.js";
import type { ServerSettings } from "../db/server-settings.js";
import type { UpgradeStateStore } from "../db/upgrade-state.js";
import type { Logger } from "../logger.js";
import type { AuthRuntime } from "./auth/runtime.js";
import type { VerificationQueue } from "./backup/verification.js";
import type { ServiceEvents } from "./events/index.js";
import type { OperationLocks } from "./locks.js";
import type { OffsiteService } from "./offsite/service.js";
import type { SchedulerHandle } from "./schedules/scheduler.js";
import type { ShutdownRegistry } from "./shutdown.js";

/** File operations a restore performs, injectable so tests can make one fail or take hard links away. */
export interface FileOps {
  rename(from: string, to: string): Promise<void>;
  link(existing: string, newName: string): Promise<void>;
}

/** Work other modules attach to a restore; each step runs with the holder's gate closed. */
export interface RestoreHook {
  /** Before the files are swapped. */
  beforeSwap?(deps: ServiceDeps, database: string): Promise<void>;
  /** After the new file opened (migrated), before the gate opens; throwing rolls the restore back. */
  afterOpen?(deps: ServiceDeps, database: string, db: AppDb): Promise<void>;
}

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
  now: () => Date;
  auth: AuthRuntime;
  restoreHooks: RestoreHook[];
  /** Outcomes of backups, restores and background work, for observers (metrics, alerts, follow-up jobs). */
  events: ServiceEvents;
  /** Background work (schedulers, queues) registers its `stop()` here; the server calls them on SIGTERM. */
  shutdown: ShutdownRegistry;
  /** Background verification of backups (docs/backups.md); idle until `start`ed by the server. */
  verifications: VerificationQueue;
  /** The off-site copy queue (docs/offsite.md); absent when CHAOSCYPHER_S3_BUCKET is not set. Started by the server only. */
  offsite?: OffsiteService;
  /** The server's schedule timers (absent in the CLI): told when a schedule changes, asked for the next run. */
  scheduler?: SchedulerHandle;
}
