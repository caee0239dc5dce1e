import { ConflictError } from "../../errors.js";
import { requireBackupFile } from "../backup/files.js";
import { RestoreCommittedError, type RestoreResult, replaceDatabase } from "../backup/restore.js";
import type { ServiceDeps } from "../deps.js";

export interface RollbackResult extends RestoreResult {
  /** The revision the database is back at. */
  revision: string | null;
}

/**
 * Restores the pre-upgrade backup the last upgrade recorded, without migrating it, and holds the
 * migrations back (start-up leaves the database alone) until an explicit apply. The hold is recorded
 * before the swap, so a crash after it never lets start-up re-apply the failing migration; a swap that
 * fails (the old file still app.db) puts the previous state back.
 */
export async function rollbackUpgrade(deps: ServiceDeps, database: string): Promise<RollbackResult> {
  deps.registry.holder(database);
  const backup = deps.upgradeStates.read(database).last_backup;
  if (!backup) {
    throw new ConflictError(`no pre-upgrade backup is recorded for database "${database}"; nothing to roll back`, {
      database,
    });
  }
  const source = requireBackupFile(deps.paths.backupDir(database), backup.filename);
  const lock = deps.locks.acquire(database, "restore");
  try {
    const previous = deps.upgradeStates.read(database);
    const at = deps.now().toISOString();
    await deps.upgradeStates.update(database, () => ({
      blocked: null,
      rolled_back: { backup: backup.filename, revision: backup.revision, at },
    }));
    const restored = await replaceDatabase(deps, database, source, { migrate: false }).catch(async (error) => {
      // Once the pre-upgrade file is app.db, the hold must stay: start-up would re-apply the failing migration.
      if (error instanceof RestoreCommittedError) throw error;
      await deps.upgradeStates.update(database, () => ({
        blocked: previous.blocked,
        rolled_back: previous.rolled_back,
      }));
      throw error;
    });
    deps.logger.warn({ database, backup: backup.filename, revision: backup.revision }, "upgrade rolled back");
    return { ...restored, revision: backup.revision };
  } finally {
    lock.release();
  }
}
