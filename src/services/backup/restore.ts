import { randomBytes } from "node:crypto";
import { rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { ConnectionHolder } from "../../db/holder.js";
import { RESTORE_INTENT, type RestoreIntent, STAGED_PREFIX } from "../../db/recovery.js";
import { InvalidBackupError } from "../../errors.js";
import { fsyncDirAsync, writeFileAtomic } from "../../lib/durable-fs.js";
import { runTask } from "../../workers/run.js";
import { removeWithJournal } from "../../workers/sqlite-tasks.js";
import type { ServiceDeps } from "../deps.js";
import { requireBackupFile } from "./files.js";
import { ensureFreeSpace } from "./storage.js";

export interface RestoreResult {
  database: string;
  restored_from: string;
  safety_copy: string;
}

interface SwapPaths {
  dir: string;
  appDb: string;
  preRestore: string;
  staged: string;
}

/** Replaces a live database with a backup, in the order of SPEC §5; any failure puts the old one back. */
export async function restoreBackup(deps: ServiceDeps, database: string, filename: string): Promise<RestoreResult> {
  const { registry, locks, paths, logger, config } = deps;
  const holder = registry.holder(database);
  const source = requireBackupFile(paths.backupDir(database), filename);
  const lock = locks.acquire(database, "restore");
  const log = logger.child({ database, operation: "restore", filename });
  const started = performance.now();
  const dir = paths.dbDir(database);
  const swap: SwapPaths = {
    dir,
    appDb: paths.dbFile(database),
    preRestore: paths.preRestoreFile(database),
    staged: path.join(dir, `${STAGED_PREFIX}${randomBytes(4).toString("hex")}`),
  };
  try {
    const { size } = await stat(source);
    log.info({ size }, "restore started");
    await ensureFreeSpace(dir, size, config.backupFreeMarginBytes);
    await stageAndValidate(deps, source, swap.staged);
    await holder.exclusive(() => swapInto(deps, holder, swap, filename));
    log.info({ size, durationMs: Math.round(performance.now() - started), outcome: "ok" }, "restore finished");
    return { database, restored_from: filename, safety_copy: path.basename(swap.preRestore) };
  } catch (error) {
    removeWithJournal(swap.staged);
    const durationMs = Math.round(performance.now() - started);
    log.error({ err: error, durationMs, outcome: "failed" }, "restore failed");
    throw error;
  } finally {
    lock.release();
  }
}

/** Step 1: copy next to app.db and check it off the event loop; nothing live is touched yet. */
async function stageAndValidate(deps: ServiceDeps, source: string, staged: string): Promise<void> {
  await runTask("copyDurably", { src: source, dest: staged });
  const newestKnownMillis = deps.migrations.at(-1)?.when ?? 0;
  const result = await runTask("validateBackup", { file: staged, newestKnownMillis });
  if (!result.ok) throw new InvalidBackupError(result.message, { reason: result.reason });
}

/** Steps 3-5, run with the holder's gate closed and no request inside. */
async function swapInto(deps: ServiceDeps, holder: ConnectionHolder, swap: SwapPaths, backup: string): Promise<void> {
  holder.detachForSwap();
  for (const hook of deps.restoreHooks) await hook.beforeSwap?.(deps, holder.name);
  const intentFile = path.join(swap.dir, RESTORE_INTENT);
  const intent: RestoreIntent = { staged: path.basename(swap.staged), backup };
  await writeFileAtomic(intentFile, JSON.stringify(intent));
  let movedAside = false;
  try {
    await deps.fileOps.rename(swap.appDb, swap.preRestore);
    movedAside = true;
    await removeSidecars(swap.appDb);
    await deps.fileOps.rename(swap.staged, swap.appDb);
    await fsyncDirAsync(swap.dir);
    openRestored(holder);
    for (const hook of deps.restoreHooks) {
      if (hook.afterOpen) await holder.insideExclusive((db) => hook.afterOpen?.(deps, holder.name, db));
    }
  } catch (error) {
    holder.close();
    if (movedAside) await putPreviousBack(deps, swap);
    throw error;
  } finally {
    await rm(intentFile, { force: true });
    await fsyncDirAsync(swap.dir);
  }
}

/** Step 5: the file passed validation, so failing to open or migrate it is the backup's fault (422). */
function openRestored(holder: ConnectionHolder): void {
  try {
    holder.open();
  } catch (cause) {
    const message = `the backup could not be opened and migrated: ${(cause as Error).message}`;
    throw new InvalidBackupError(message, { reason: "open_failed" }, { cause });
  }
}

/** Rollback uses the plain rename: the injectable one is what a failure test makes fail. */
async function putPreviousBack(deps: ServiceDeps, swap: SwapPaths): Promise<void> {
  await removeSidecars(swap.appDb);
  await rename(swap.preRestore, swap.appDb);
  await fsyncDirAsync(swap.dir);
  deps.logger.warn({ database: path.basename(swap.dir) }, "restore rolled back, previous database is back");
}

/** The previous file was switched out of WAL mode, so its -wal and -shm are empty and safe to remove. */
async function removeSidecars(appDb: string): Promise<void> {
  await rm(`${appDb}-wal`, { force: true });
  await rm(`${appDb}-shm`, { force: true });
}
