import type { UpgradeState } from "../../db/upgrade-state.js";
import { ServiceError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { WorkerTaskError } from "../../workers/run.js";
import { writeBackup } from "../backup/create.js";
import { preUpgradeBackupName } from "../backup/files.js";
import type { ServiceDeps } from "../deps.js";
import { blockedError, newerSchemaError } from "./messages.js";
import { inspectSchema, type SchemaInfo } from "./status.js";

export type UpgradeOutcome = "applied" | "up_to_date" | "held";

export interface UpgradeResult {
  database: string;
  outcome: UpgradeOutcome;
  applied: string[];
  /** The automatic backup taken before applying; null when nothing was applied or the file was fresh. */
  backup: string | null;
}

export interface UpgradeReport extends Omit<UpgradeResult, "outcome"> {
  outcome: UpgradeOutcome | "failed";
  error?: { code: string; message: string };
}

export interface UpgradeOptions {
  /** An explicit apply upgrades a rolled-back database again; start-up leaves it held back. */
  includeRolledBack: boolean;
}

type LastBackup = NonNullable<UpgradeState["last_backup"]>;
type Blocked = Omit<NonNullable<UpgradeState["blocked"]>, "at">;

/**
 * Applies a database's pending migrations: under its cross-process "migrate" lock (waiting for a running
 * operation, so two starts apply once), after a `pre-<revision>-<stamp>.db` backup, in one transaction in a
 * worker. A failure leaves the file as it was, records the database as blocked and throws the 503.
 */
export async function upgradeDatabase(
  deps: ServiceDeps,
  database: string,
  options: UpgradeOptions,
): Promise<UpgradeResult> {
  deps.registry.holder(database);
  const log = deps.logger.child({ database, operation: "migrate" });
  const lock = await deps.locks.acquireWhenFree(database, "migrate", deps.config.gateTimeoutMs, (busy) =>
    log.info({ busy: busy.message }, "waiting for another operation on this database to finish"),
  );
  try {
    return await upgradeLocked(deps, database, options, log);
  } finally {
    lock.release();
  }
}

/** Every database (or one), reporting failures instead of throwing: one bad database must not stop the others. */
export async function upgradeAll(deps: ServiceDeps, options: UpgradeOptions, only?: string): Promise<UpgradeReport[]> {
  const reports: UpgradeReport[] = [];
  for (const database of only === undefined ? deps.registry.names() : [only]) {
    try {
      reports.push(await upgradeDatabase(deps, database, options));
    } catch (error) {
      const known = error instanceof ServiceError ? error : null;
      if (!known) deps.logger.error({ err: error, database }, "upgrade failed unexpectedly");
      const backup = known?.details?.backup;
      reports.push({
        database,
        outcome: "failed",
        applied: [],
        backup: typeof backup === "string" ? backup : null,
        error: { code: known?.code ?? "INTERNAL_ERROR", message: (error as Error).message },
      });
    }
  }
  return reports;
}

async function upgradeLocked(
  deps: ServiceDeps,
  database: string,
  options: UpgradeOptions,
  log: Logger,
): Promise<UpgradeResult> {
  const result = (outcome: UpgradeOutcome, applied: string[] = [], backup: string | null = null) => ({
    database,
    outcome,
    applied,
    backup,
  });
  const schema = await inspectOrBlock(deps, database);
  const recorded = deps.upgradeStates.read(database);
  if (schema.newer) throw newerSchemaError(database);
  if (schema.pending.length === 0) {
    if (recorded.blocked || recorded.rolled_back) {
      await deps.upgradeStates.update(database, () => ({ blocked: null, rolled_back: null }));
    }
    return result("up_to_date");
  }
  if (recorded.rolled_back && !options.includeRolledBack) {
    log.info({ pending: schema.pending }, "migrations held back: the database was rolled back");
    return result("held");
  }
  const first = schema.pending[0] as string;
  const backup = schema.applied.length === 0 ? null : await preUpgradeBackup(deps, database, first, schema.revision);
  const applied = await migrate(deps, database, first, backup);
  const at = deps.now().toISOString();
  await deps.upgradeStates.update(database, () => ({
    last_backup: backup,
    last_applied: { revisions: applied, at },
    blocked: null,
    rolled_back: null,
  }));
  log.info({ applied, backup: backup?.filename ?? null }, "migrations applied");
  return result("applied", applied, backup?.filename ?? null);
}

async function inspectOrBlock(deps: ServiceDeps, database: string): Promise<SchemaInfo> {
  try {
    return inspectSchema(deps, database);
  } catch (error) {
    return block(deps, database, { reason: "unreadable", revision: null, error: messageOf(error), backup: null });
  }
}

async function preUpgradeBackup(
  deps: ServiceDeps,
  database: string,
  first: string,
  revision: string | null,
): Promise<LastBackup> {
  try {
    const created = await writeBackup(deps, database, preUpgradeBackupName(first));
    return { filename: created.filename, revision, created_at: created.created_at };
  } catch (error) {
    // Nothing was changed, so there is nothing to roll back to: the record of an older backup is dropped.
    const blocked = { reason: "backup_failed", revision: first, error: messageOf(error), backup: null } as const;
    return block(deps, database, blocked, null);
  }
}

async function migrate(
  deps: ServiceDeps,
  database: string,
  first: string,
  backup: LastBackup | null,
): Promise<string[]> {
  try {
    const { applied } = await deps.tasks.run("migrateFile", {
      file: deps.paths.dbFile(database),
      migrations: deps.migrations,
    });
    return applied;
  } catch (error) {
    const failed = error instanceof WorkerTaskError ? error.details?.revision : undefined;
    const blocked: Blocked = {
      reason: "migration_failed",
      revision: typeof failed === "string" ? failed : first,
      error: messageOf(error),
      backup: backup?.filename ?? null,
    };
    return block(deps, database, blocked, backup);
  }
}

/** Records the failure durably before answering, so status and rollback tell the truth after a restart. */
async function block(
  deps: ServiceDeps,
  database: string,
  blocked: Blocked,
  lastBackup?: LastBackup | null,
): Promise<never> {
  const state = await deps.upgradeStates.update(database, (current) => ({
    blocked: { ...blocked, at: deps.now().toISOString() },
    last_backup: lastBackup === undefined ? current.last_backup : lastBackup,
  }));
  deps.logger.error({ database, ...blocked }, "upgrade failed; database blocked");
  deps.events.emit({
    type: "operation.finished",
    database,
    operation: "migration",
    outcome: "failed",
    error: blocked.error,
  });
  throw blockedError(database, state);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
