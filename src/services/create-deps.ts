import { rename } from "node:fs/promises";
import type { Config } from "../config.js";
import { loadMigrations } from "../db/migrations.js";
import { dataPaths } from "../db/paths.js";
import { DatabaseRegistry } from "../db/registry.js";
import { ServerSettings } from "../db/server-settings.js";
import type { Logger } from "../logger.js";
import { authRestoreHook, createAuthRuntime } from "./auth/index.js";
import type { ServiceDeps } from "./deps.js";
import { OperationLocks } from "./locks.js";

/** Builds the service dependencies for a data dir and brings every database up (recovery, migrations). */
export function createServiceDeps(config: Config, logger: Logger, overrides: Partial<ServiceDeps> = {}): ServiceDeps {
  const paths = dataPaths(config.dataDir);
  const migrations = overrides.migrations ?? loadMigrations();
  const registry = new DatabaseRegistry({
    paths,
    migrations,
    logger,
    holder: { gateTimeoutMs: config.gateTimeoutMs, drainTimeoutMs: config.drainTimeoutMs },
  });
  registry.init();
  return {
    config,
    logger,
    paths,
    registry,
    migrations,
    locks: new OperationLocks(paths.dbDir),
    settings: new ServerSettings(paths.settingsFile),
    fileOps: { rename },
    now: () => new Date(),
    auth: createAuthRuntime(),
    restoreHooks: [authRestoreHook],
    ...overrides,
  };
}
