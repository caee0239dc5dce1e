import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { ATOMIC_WRITE_TEMP } from "../lib/durable-fs.js";
import { fsyncDir, removeWithJournal } from "../lib/durable-fs-sync.js";
import type { Logger } from "../logger.js";

export const RESTORE_INTENT = "restore.intent";
export const STAGED_PREFIX = ".app.db.restore-";
/** The previous safety copy, moved aside before a restore's gate closes and deleted once it succeeded. */
export const OLD_SAFETY_PREFIX = ".app.db.pre_restore.old-";
export const BACKUP_TEMP = /^\.app_.*\.tmp-[0-9a-f]+(-journal)?$|^\.pre-.*\.tmp-[0-9a-f]+(-journal)?$/;

export interface RestoreIntent {
  staged: string;
  backup: string;
}

/**
 * Finishes or undoes a restore that a crash interrupted. The rule: once the intent file exists the staged
 * copy is validated, so if app.db is missing the swap is finished with it; if the staged copy is gone too,
 * app.db.pre_restore goes back. While app.db exists the swap either never started (staged copy removed)
 * or completed (nothing to do).
 */
export function recoverDatabaseDir(dir: string, logger: Logger): void {
  const intentFile = path.join(dir, RESTORE_INTENT);
  const appDb = path.join(dir, "app.db");
  if (existsSync(intentFile)) {
    const intent = readIntent(intentFile);
    const staged = intent ? path.join(dir, intent.staged) : null;
    if (!existsSync(appDb) && staged && existsSync(staged)) {
      renameSync(staged, appDb);
      logger.warn({ dir, backup: intent?.backup }, "recovery: finished an interrupted restore");
    } else if (!existsSync(appDb) && existsSync(`${appDb}.pre_restore`)) {
      renameSync(`${appDb}.pre_restore`, appDb);
      logger.warn({ dir }, "recovery: undid an interrupted restore, previous database is back");
    } else if (!existsSync(appDb)) {
      // Nothing to finish the swap with: the intent stays as the record, and the database is refused.
      logger.error({ dir, backup: intent?.backup }, "recovery: an interrupted restore left no app.db; refusing it");
      return;
    } else {
      logger.warn({ dir }, "recovery: an interrupted restore left the database consistent");
    }
    rmSync(intentFile, { force: true });
    fsyncDir(dir);
  }
  for (const name of readdirSync(dir)) {
    if (name.startsWith(STAGED_PREFIX)) {
      removeWithJournal(path.join(dir, name));
      logger.info({ dir, file: name }, "recovery: removed a leftover staged restore file");
    } else if (name.startsWith(OLD_SAFETY_PREFIX)) {
      recoverOldSafetyCopy(dir, name, logger);
    }
  }
  removeAtomicWriteLeftovers(dir, logger);
}

/** An older safety copy a restore had moved aside: it goes back unless a newer app.db.pre_restore took its place. */
function recoverOldSafetyCopy(dir: string, name: string, logger: Logger): void {
  const preRestore = path.join(dir, "app.db.pre_restore");
  if (existsSync(preRestore)) {
    rmSync(path.join(dir, name), { force: true });
    logger.info({ dir, file: name }, "recovery: removed the previous safety copy a restore replaced");
  } else {
    renameSync(path.join(dir, name), preRestore);
    fsyncDir(dir);
    logger.warn({ dir }, "recovery: put the previous app.db.pre_restore back");
  }
}

/** Removes what an interrupted backup left: hidden temp files and their journals. */
export function removeBackupLeftovers(dir: string, logger: Logger): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    if (BACKUP_TEMP.test(name)) {
      rmSync(path.join(dir, name), { force: true });
      logger.info({ dir, file: name }, "recovery: removed a leftover backup temp file");
    }
  }
  removeAtomicWriteLeftovers(dir, logger);
}

/**
 * Removes the temp files interrupted atomic writes left (`.<name>.<8 hex>.tmp`, records, intents, settings):
 * the file they were replacing is intact. `owns` narrows a shared directory to one database's files.
 */
export function removeAtomicWriteLeftovers(
  dir: string,
  logger: Logger,
  owns: (target: string) => boolean = () => true,
) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const target = ATOMIC_WRITE_TEMP.exec(name)?.[1];
    if (target === undefined || !owns(target)) continue;
    rmSync(path.join(dir, name), { force: true });
    logger.info({ dir, file: name }, "recovery: removed a leftover temp file of an interrupted write");
  }
}

function readIntent(file: string): RestoreIntent | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as RestoreIntent;
  } catch {
    return null;
  }
}
