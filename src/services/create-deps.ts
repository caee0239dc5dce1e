import type { Config } from "../config.js";
import { loadMigrations } from "../db/migrations.js";
import { dataPaths } from "../db/paths.js";
import { DatabaseRegistry } from "../db/registry.js";
import { ServerSettings } from "../db/server-settings.js";
import { UpgradeStateStore } from "../db/upgrade-state.js";
import { type Clock, offsetFileClock, systemClock } from "../lib/clock.js";
import { nodeFileOpsWith } from "../lib/durable-fs.js";
import { type Ids, seededIds, systemIds } from "../lib/ids.js";
import type { Logger } from "../logger.js";
import { TaskRunner } from "../workers/run.js";
import { authRestoreHook, createAuthRuntime } from "./auth/index.js";
import { VerificationQueue } from "./backup/verification.js";
import type { ServiceDeps, ServiceOverrides } from "./deps.js";
import { ServiceEvents } from "./events/index.js";
import { loadInstallIdentity } from "./instance/index.js";
import { OperationLocks } from "./locks.js";
import { LeaseGuard, type UpgradeReport, upgradeAll } from "./migrations/index.js";
import { OffsiteService, offsiteSettings } from "./offsite/index.js";
import { BackgroundWork } from "./shutdown.js";

/**
 * Builds the service dependencies for a data dir: recovers interrupted work and makes sure `default`
 * exists. Migrations are not applied here (the CLI must not upgrade behind an operator's back): the server
 * calls `initServices` next.
 */
export function createServiceDeps(config: Config, logger: Logger, overrides: ServiceOverrides = {}): ServiceDeps {
  const paths = dataPaths(config.dataDir);
  const clock = overrides.clock ?? configuredClock(config, logger);
  const ids = overrides.ids ?? configuredIds(config, logger);
  // One port for every mutating file call, start-up recovery's below included (a partial override keeps the rest real).
  const fileOps = { ...nodeFileOpsWith(ids), ...overrides.fileOps };
  const migrations = overrides.migrations ?? loadMigrations();
  const locks = overrides.locks ?? new OperationLocks(paths.dbDir, clock);
  const upgradeStates = overrides.upgradeStates ?? new UpgradeStateStore(paths.dbDir);
  const guard = new LeaseGuard(upgradeStates, migrations);
  const tasks = overrides.tasks ?? new TaskRunner();
  const registry = new DatabaseRegistry({
    paths,
    migrations,
    logger,
    holder: {
      gateTimeoutMs: config.gateTimeoutMs,
      drainTimeoutMs: config.drainTimeoutMs,
      checkpoint: (file) => tasks.run("checkpointForSwap", { file }),
      clock,
    },
    guard: (name, connect) => guard.check(name, connect),
    recoveryLock: (name) => locks.tryAcquire(name, "recover"),
    recovery: { ops: fileOps, ids },
  });
  registry.init();
  const deps: ServiceDeps = {
    config,
    logger,
    paths,
    registry,
    migrations,
    locks,
    upgradeStates,
    settings: new ServerSettings(paths.settingsFile),
    clock,
    ids,
    now: () => clock.date(),
    auth: createAuthRuntime(),
    restoreHooks: [authRestoreHook],
    events: new ServiceEvents(logger),
    tasks,
    shutdown: new BackgroundWork(),
    verifications: new VerificationQueue(),
    instance: loadInstallIdentity(config.dataDir, { instance: config.instance, offsiteKey: config.offsiteKey }),
    ...overrides,
    fileOps,
  };
  const offsite = offsiteSettings(config, deps.instance);
  if (offsite && !("offsite" in overrides)) deps.offsite = new OffsiteService(deps, offsite);
  return deps;
}

/** The machine's clock, or (tests only, said loudly at every start) one whose offset a file holds. */
function configuredClock(config: Config, logger: Logger): Clock {
  if (!config.testClockFile) return systemClock;
  logger.warn(
    { file: config.testClockFile },
    "TEST CLOCK: wall time is shifted by the offset in this file (tests only)",
  );
  return offsetFileClock(config.testClockFile);
}

/** Crypto-random names, or (tests only: the chaos run replays a seed) the ones a seed gives. */
function configuredIds(config: Config, logger: Logger): Ids {
  if (config.testSeed === undefined) return systemIds;
  logger.warn({ seed: config.testSeed }, "TEST SEED: file names' random parts and retry jitter come from this seed");
  return seededIds(config.testSeed);
}

/**
 * The server's start: every database's pending migrations applied after its pre-upgrade backup; a failure
 * blocks that database only. Databases that can be served are opened, so a second process (the CLI) sees
 * them held open and refuses to swap them underneath.
 */
export async function initServices(deps: ServiceDeps): Promise<UpgradeReport[]> {
  const reports = await upgradeAll(deps, { includeRolledBack: false });
  for (const report of reports) {
    if (report.outcome !== "applied" && report.outcome !== "up_to_date") continue;
    try {
      deps.registry.holder(report.database).open();
    } catch (error) {
      deps.logger.error({ err: error, database: report.database }, "database could not be opened");
    }
  }
  return reports;
}
