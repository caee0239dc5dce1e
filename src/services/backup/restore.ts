import { access, stat } from "node:fs/promises";
import path from "node:path";
import { type ConnectionHolder, isSqliteBusy } from "../../db/holder.js";
import { oldSafetyName, RESTORE_INTENT, stagedName } from "../../db/paths.js";
import { moveRejectedAside, type RestoreIntent, restoreIntentFormat } from "../../db/recovery.js";
import { InvalidBackupError, OperationInProgressError } from "../../errors.js";
import { logFailure } from "../../logger.js";
import { WorkerTaskError } from "../../workers/run.js";
import type { FileOps, ServiceDeps } from "../deps.js";
import { copyVerified } from "./checksums.js";
import { requireBackupFile } from "./files.js";
import { listPreRestore } from "./pre-restore.js";
import { refuseFailedVerification } from "./restore-guard.js";
import { ensureFreeSpace } from "./storage.js";

export interface RestoreResult {
  database: string;
  restored_from: string;
  /** `app.db.pre_restore`, the database this restore replaced (for the manual procedure). */
  safety_copy: string;
  /** The same database as a listed `pre-restore` backup; null only if listing it failed (it was logged). */
  safety_backup: string | null;
}

interface SwapPaths {
  dir: string;
  appDb: string;
  preRestore: string;
  staged: string;
}

export interface ReplaceOptions {
  /** Bring a backup that predates this build to its schema (migrated on the staged copy); a rollback does not. */
  migrate: boolean;
}

/**
 * Replaces a live database with one of its backups, in the order docs/format.md ("restore.intent") requires;
 * any failure puts the old one back.
 */
export async function restoreBackup(
  deps: ServiceDeps,
  database: string,
  filename: string,
  options: { force?: boolean } = {},
): Promise<RestoreResult> {
  deps.registry.holder(database);
  const source = requireBackupFile(deps.paths.backupDir(database), filename);
  await refuseFailedVerification(deps, database, filename, options.force === true);
  const lock = deps.locks.acquire(database, "restore");
  try {
    return await replaceDatabase(deps, database, source, { migrate: true });
  } finally {
    lock.release();
  }
}

/** The restore itself, from any validated source file; the caller holds the database's operation lock. */
export async function replaceDatabase(
  deps: ServiceDeps,
  database: string,
  source: string,
  options: ReplaceOptions,
): Promise<RestoreResult> {
  const { registry, paths, logger, config } = deps;
  const holder = registry.holder(database);
  const filename = path.basename(source);
  const log = logger.child({ database, operation: "restore", filename });
  const started = performance.now();
  const dir = paths.dbDir(database);
  const swap: SwapPaths = {
    dir,
    appDb: paths.dbFile(database),
    preRestore: paths.preRestoreFile(database),
    staged: path.join(dir, stagedName(deps.ids)),
  };
  let oldSafetyCopy: string | null = null;
  try {
    const { size } = await stat(source);
    log.info({ size }, "restore started");
    // The previous safety copy goes only once it is listed (I1); an unlisted one (a crash) is listed first.
    await listPreRestore(deps, database);
    // Room for the staged copy and for listing the database it replaces.
    await ensureFreeSpace(dir, size + registry.size(database), config.backupFreeMarginBytes);
    const lastApplied = await stageAndValidate(deps, source, swap.staged);
    if (options.migrate && lastApplied < (deps.migrations.at(-1)?.when ?? 0)) await migrateStaged(deps, swap.staged);
    const prepared = await deps.tasks.run("prepareSwap", { staged: swap.staged, live: swap.appDb });
    log.debug(prepared, "swap prepared");
    // A reader elsewhere blocked the checkpoint: refused before the gate closes, so no request waits for it.
    if (!prepared.walTruncated) throw heldElsewhere(database);
    oldSafetyCopy = await moveAsideOldSafetyCopy(deps, swap);
    const replacedAt = deps.now();
    await holder.exclusive(() => swapInto(deps, holder, swap, filename));
    if (oldSafetyCopy) {
      const aside = oldSafetyCopy;
      oldSafetyCopy = null;
      await deps.fileOps.rm(aside).catch((err) => log.warn({ err }, "could not remove the older safety copy"));
    }
    const safetyBackup = await listReplaced(deps, database, replacedAt);
    log.info({ size, durationMs: Math.round(performance.now() - started), outcome: "ok" }, "restore finished");
    deps.events.emit({ type: "restore.finished", database, filename, outcome: "ok" });
    return {
      database,
      restored_from: filename,
      safety_copy: path.basename(swap.preRestore),
      safety_backup: safetyBackup,
    };
  } catch (error) {
    await removeStaged(deps.fileOps, swap.staged);
    if (oldSafetyCopy) await putOldSafetyCopyBack(deps.fileOps, swap, oldSafetyCopy);
    const durationMs = Math.round(performance.now() - started);
    logFailure(log, error, { durationMs, outcome: "failed" }, "restore failed");
    deps.events.emit({
      type: "restore.finished",
      database,
      filename,
      outcome: "failed",
      error: (error as Error).message,
    });
    throw error;
  }
}

/**
 * After the gate opened (never inside it): the replaced database becomes a listed `pre-restore` backup. The
 * restore itself is done; if listing fails, app.db.pre_restore still holds it and the next restore (or the
 * next start) lists it before anything may remove it, so the failure is reported, not thrown.
 */
async function listReplaced(deps: ServiceDeps, database: string, replacedAt: Date): Promise<string | null> {
  const started = performance.now();
  try {
    return await listPreRestore(deps, database, replacedAt);
  } catch (error) {
    const message = `the replaced database stays as app.db.pre_restore but could not be listed: ${(error as Error).message}`;
    deps.logger.error({ err: error, database, operation: "restore" }, message);
    const durationMs = Math.round(performance.now() - started);
    deps.events.emit({ type: "backup.failed", database, kind: "pre-restore", error: message, durationMs });
    return null;
  }
}

/**
 * Step 1: copy next to app.db and check it off the event loop; nothing live is touched yet. The copy is
 * hashed as it is made: a backup whose bytes changed since its record was written is refused.
 */
async function stageAndValidate(deps: ServiceDeps, source: string, staged: string): Promise<number> {
  await copyVerified(deps, source, staged);
  const newestKnownMillis = deps.migrations.at(-1)?.when ?? 0;
  const result = await deps.tasks.run("validateBackup", { file: staged, newestKnownMillis });
  if (!result.ok) throw new InvalidBackupError(result.message, { reason: result.reason });
  return result.lastApplied;
}

/**
 * Steps 3-5, run with the holder's gate closed and no request inside. The old file stays locked exclusively
 * (no other process can open it) until the renames or their rollback are done; the intent is removed only then.
 */
async function swapInto(deps: ServiceDeps, holder: ConnectionHolder, swap: SwapPaths, backup: string): Promise<void> {
  const detached = await holder.detachForSwap();
  const intentFile = path.join(swap.dir, RESTORE_INTENT);
  const intent: RestoreIntent = { staged: path.basename(swap.staged), backup };
  let keptAs: "link" | "rename" | null = null;
  let swapped = false;
  try {
    for (const hook of deps.restoreHooks) await hook.beforeSwap?.(deps, holder.name);
    // The intent is durable before the link: recovery needs it to tell a half-done swap from a finished one.
    await deps.fileOps.writeFileAtomic(intentFile, restoreIntentFormat.serialize(intent));
    keptAs = await keepPrevious(deps, swap);
    await removeEmptySidecars(deps.fileOps, swap.appDb);
    await deps.fileOps.rename(swap.staged, swap.appDb);
    swapped = true;
    await deps.fileOps.fsyncDir(swap.dir);
  } catch (error) {
    // Linked but not swapped, app.db is still the previous file: only the extra name goes.
    if (keptAs === "link" && !swapped) await deps.fileOps.rm(swap.preRestore);
    else if (keptAs) await putPreviousBack(deps, swap);
    await removeIntent(deps.fileOps, intentFile, swap.dir);
    throw error;
  } finally {
    detached.release();
  }
  try {
    await retriedWhileBusy(deps, holder, () => openRestored(holder));
    for (const hook of deps.restoreHooks) {
      const { afterOpen } = hook;
      if (afterOpen)
        await retriedWhileBusy(deps, holder, () => holder.insideExclusive((db) => afterOpen(deps, holder.name, db)));
    }
  } catch (error) {
    holder.close();
    await rollBackSwap(deps, swap, intentFile, intent);
    throw error;
  }
  await removeIntent(deps.fileOps, intentFile, swap.dir).catch((error: unknown) => {
    throw new RestoreCommittedError(error);
  });
}

/**
 * The previous file becomes app.db.pre_restore by a hard link, so app.db never goes missing: a process that
 * opens it meanwhile finds the locked old file instead of creating an empty one. Without hard links, a rename.
 */
async function keepPrevious(deps: ServiceDeps, swap: SwapPaths): Promise<"link" | "rename"> {
  try {
    await deps.fileOps.link(swap.appDb, swap.preRestore);
    return "link";
  } catch (error) {
    if (!NO_HARD_LINKS.has((error as NodeJS.ErrnoException).code ?? "")) throw error;
  }
  await deps.fileOps.rename(swap.appDb, swap.preRestore);
  return "rename";
}

const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]);

/**
 * After the swap: the intent says a rollback began first, so a crash during it finishes it at start-up. The
 * rejected file is moved to `.app.db.rejected-<hex>` with its -wal rather than replaced.
 */
async function rollBackSwap(deps: ServiceDeps, swap: SwapPaths, intentFile: string, intent: RestoreIntent) {
  const log = deps.logger.child({ database: path.basename(swap.dir) });
  // Not recorded (a full disk): the rollback still runs, only a crash inside it would keep the backup.
  await deps.fileOps
    .writeFileAtomic(intentFile, restoreIntentFormat.serialize({ ...intent, phase: "rolling_back" }))
    .catch((err: unknown) => log.warn({ err }, "could not record the rollback in the restore intent"));
  // Another process may have committed to the restored file since the rename: it is kept, never unlinked.
  moveRejectedAside(swap.dir, log, { ops: deps.fileOps, ids: deps.ids });
  await putPreviousBack(deps, swap);
  await removeIntent(deps.fileOps, intentFile, swap.dir);
}

/**
 * The restore failed after the backup became app.db (only the intent's removal was left): the new database
 * is in place and stays. Not a ServiceError: it answers like its cause (a 500 for an I/O error).
 */
export class RestoreCommittedError extends Error {
  /** The cause's errno, so the CLI reports it as the system error it is. */
  readonly code: string | undefined;

  constructor(cause: unknown) {
    super(`the restore is done, but its intent could not be removed: ${(cause as Error)?.message}`, { cause });
    this.name = "RestoreCommittedError";
    this.code = (cause as NodeJS.ErrnoException)?.code;
  }
}

async function removeIntent(ops: FileOps, intentFile: string, dir: string): Promise<void> {
  await ops.rm(intentFile);
  await ops.fsyncDir(dir);
}

/**
 * Step 5's migrations, run on the staged copy before the gate closes (in a worker, no pre-upgrade backup: the
 * backup file is the old state). The file passed validation, so a failure is the backup's fault (422).
 */
async function migrateStaged(deps: ServiceDeps, staged: string): Promise<void> {
  try {
    const { applied } = await deps.tasks.run("migrateFile", { file: staged, migrations: deps.migrations });
    deps.logger.info({ applied }, "restored backup migrated to this build's schema");
  } catch (cause) {
    throw openFailed(cause);
  }
}

/** How long the reopen and the hooks wait for another process's lock on the new file (never blocking). */
const SWAPPED_BUSY_MS = 2000;
const SWAPPED_RETRY_MS = 20;

/**
 * From the rename on, another process (the app's own writer) may open the restored file and hold a transaction
 * on it, and the holder's connection never waits for a lock (busy timeout 0, on the event loop). A rollback now
 * would hide what that process committed to the new file (I1), so the reopen and each hook (its transaction
 * commits whole or not at all) are retried until the lock is free. Still busy after that: refused as contention
 * (409) and rolled back, never a 500 (I5).
 */
async function retriedWhileBusy(deps: ServiceDeps, holder: ConnectionHolder, step: () => unknown): Promise<void> {
  for (let waited = 0; ; waited += SWAPPED_RETRY_MS) {
    try {
      await step();
      return;
    } catch (error) {
      if (!isSqliteBusy(error)) throw error;
      if (waited >= SWAPPED_BUSY_MS) throw heldElsewhere(holder.name);
      await deps.clock.sleep(SWAPPED_RETRY_MS);
    }
  }
}

/** Step 5's reopen, with the gate closed; the holder's read check covers the vector table. */
function openRestored(holder: ConnectionHolder): void {
  try {
    holder.open();
  } catch (cause) {
    // Another process touching the new file in the instant after the rename is contention, not a bad backup.
    if (isSqliteBusy(cause)) throw cause;
    throw openFailed(cause);
  }
}

function heldElsewhere(database: string): OperationInProgressError {
  return new OperationInProgressError(`another process has database "${database}" open; stop it before restoring`, {
    database,
  });
}

function openFailed(cause: unknown): InvalidBackupError {
  const message = `the backup could not be opened and migrated: ${(cause as Error).message}`;
  const details = cause instanceof WorkerTaskError ? cause.details : undefined;
  return new InvalidBackupError(message, { reason: "open_failed", ...details }, { cause });
}

/**
 * Renaming app.db over the previous app.db.pre_restore would free that whole file inside the gate (about
 * 200 ms per GiB on ext4); moved aside first, it is deleted after the gate opened, or put back on failure.
 */
async function moveAsideOldSafetyCopy(deps: ServiceDeps, swap: SwapPaths): Promise<string | null> {
  // Nothing to move is the common case (a first restore): no call is made for it.
  if (!(await exists(swap.preRestore))) return null;
  const aside = path.join(swap.dir, oldSafetyName(deps.ids));
  try {
    await deps.fileOps.rename(swap.preRestore, aside);
    return aside;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

async function putOldSafetyCopyBack(ops: FileOps, swap: SwapPaths, aside: string): Promise<void> {
  if (await exists(swap.preRestore)) await ops.rm(aside);
  else await ops.rename(aside, swap.preRestore);
}

/** If a step throws, the intent stays and start-up recovery finishes the job. */
async function putPreviousBack(deps: ServiceDeps, swap: SwapPaths): Promise<void> {
  await removeEmptySidecars(deps.fileOps, swap.appDb);
  await deps.fileOps.rename(swap.preRestore, swap.appDb);
  await deps.fileOps.fsyncDir(swap.dir);
  deps.logger.warn({ database: path.basename(swap.dir) }, "restore rolled back, previous database is back");
}

/**
 * The previous file was switched out of WAL mode and is locked, so its -wal and -shm should be empty. A -wal
 * that is not holds some process's committed writes: it is never deleted, the restore is refused instead.
 */
async function removeEmptySidecars(ops: FileOps, appDb: string): Promise<void> {
  const wal = await stat(`${appDb}-wal`).catch(() => null);
  if (wal && wal.size > 0) {
    throw new OperationInProgressError(`another process wrote to ${path.basename(appDb)} during the restore`, {
      database: path.basename(path.dirname(appDb)),
    });
  }
  await ops.rm(`${appDb}-wal`);
  await ops.rm(`${appDb}-shm`);
}

/** The staged copy and any SQLite sidecar of it. */
async function removeStaged(ops: FileOps, staged: string): Promise<void> {
  for (const suffix of ["", "-journal", "-wal", "-shm"]) await ops.rm(staged + suffix);
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );
