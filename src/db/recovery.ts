import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { type FileOps, nodeFileOps, removeDatabaseFileSync } from "../lib/durable-fs.js";
import { FormatVersionError, versionedJson } from "../lib/format.js";
import { type Ids, systemIds } from "../lib/ids.js";
import { abandonedTemp } from "../lib/temp-names.js";
import type { Logger } from "../logger.js";
import {
  ATOMIC_WRITE_TEMP,
  BACKUP_TEMP,
  DB_FILE,
  OLD_SAFETY_PREFIX,
  PRE_RESTORE_FILE,
  RESTORE_INTENT,
  rejectedName,
  STAGED_PREFIX,
} from "./paths.js";

export { BACKUP_TEMP, OLD_SAFETY_PREFIX, REJECTED_PREFIX, RESTORE_INTENT, STAGED_PREFIX } from "./paths.js";

/** `restore.intent` (docs/format.md): it must be durable before app.db is linked as app.db.pre_restore. */
export const restoreIntentFormat = versionedJson(
  z.object({
    // A plain name in this directory: recovery renames it over app.db.
    staged: z.string().refine((name) => name.startsWith(STAGED_PREFIX) && path.basename(name) === name),
    backup: z.string(),
    /** Written before a rollback starts, so a crash during it finishes the rollback instead of keeping the backup. */
    phase: z.literal("rolling_back").optional(),
  }),
);

export type RestoreIntent = ReturnType<typeof restoreIntentFormat.parse>;

/** What recovery changes files through (deps.fileOps, its synchronous calls) and names files with (deps.ids). */
export interface RecoveryPorts {
  ops?: Pick<FileOps, "renameSync" | "rmSync" | "fsyncDirSync">;
  ids?: Ids;
}

interface Io {
  logger: Logger;
  ops: Pick<FileOps, "renameSync" | "rmSync" | "fsyncDirSync">;
  ids: Ids;
}
const withDefaults = (logger: Logger, ports: RecoveryPorts): Io => ({
  ops: nodeFileOps,
  ids: systemIds,
  ...ports,
  logger,
});

/**
 * Finishes or undoes a restore that a crash interrupted. The swap links app.db as app.db.pre_restore, then
 * renames the validated staged copy over app.db, so app.db never goes missing (a filesystem without hard
 * links renames instead). While the staged copy exists the swap never happened and is undone; once it is
 * gone the swap is complete, unless the intent says a rollback had begun.
 */
export function recoverDatabaseDir(dir: string, logger: Logger, ports: RecoveryPorts = {}): void {
  const io = withDefaults(logger, ports);
  const { ops } = io;
  const intentFile = path.join(dir, RESTORE_INTENT);
  if (existsSync(intentFile)) {
    const done = recoverInterruptedRestore(dir, readIntent(intentFile), io);
    // Nothing to finish the swap with: the intent stays as the record, and the database is refused.
    if (!done) return;
    ops.rmSync(intentFile);
    ops.fsyncDirSync(dir);
  }
  for (const name of readdirSync(dir)) {
    if (name.startsWith(STAGED_PREFIX)) {
      removeDatabaseFileSync(path.join(dir, name), ops);
      logger.info({ dir, file: name }, "recovery: removed a leftover staged restore file");
    } else if (name.startsWith(OLD_SAFETY_PREFIX)) {
      recoverOldSafetyCopy(dir, name, io);
    }
  }
  removeAtomicWriteLeftovers(dir, io.logger, io);
}

/** Puts app.db in a consistent state; false when there is nothing to serve (the database is then refused). */
function recoverInterruptedRestore(dir: string, intent: RestoreIntent | null, io: Io): boolean {
  const { logger, ops } = io;
  const appDb = path.join(dir, DB_FILE);
  const preRestore = path.join(dir, PRE_RESTORE_FILE);
  const staged = intent ? path.join(dir, intent.staged) : null;
  const stagedLeft = staged !== null && existsSync(staged);
  if (intent?.phase === "rolling_back" && existsSync(preRestore)) {
    putPreviousBackSync(dir, io);
    logger.warn(
      { dir, backup: intent.backup },
      "recovery: finished an interrupted rollback, previous database is back",
    );
  } else if (stagedLeft && existsSync(preRestore) && sameFile(appDb, preRestore)) {
    ops.rmSync(preRestore);
    logger.warn({ dir, backup: intent?.backup }, "recovery: undid an interrupted restore, previous database stays");
  } else if (stagedLeft && existsSync(preRestore)) {
    // app.db is missing (the rename fallback) or is a file some process created while it was.
    if (existsSync(appDb)) moveRejectedAside(dir, logger, io);
    ops.renameSync(staged, appDb);
    logger.warn({ dir, backup: intent?.backup }, "recovery: finished an interrupted restore");
  } else if (!existsSync(appDb) && existsSync(preRestore)) {
    ops.renameSync(preRestore, appDb);
    logger.warn({ dir }, "recovery: undid an interrupted restore, previous database is back");
  } else if (!existsSync(appDb)) {
    logger.error({ dir, backup: intent?.backup }, "recovery: an interrupted restore left no app.db; refusing it");
    return false;
  } else {
    logger.warn({ dir }, "recovery: an interrupted restore left the database consistent");
  }
  return true;
}

/** Rollback at start-up: the rejected file goes aside (a process may have written to it), the previous one returns. */
function putPreviousBackSync(dir: string, io: Io): void {
  const appDb = path.join(dir, DB_FILE);
  if (existsSync(appDb)) moveRejectedAside(dir, io.logger, io);
  io.ops.renameSync(path.join(dir, PRE_RESTORE_FILE), appDb);
}

/**
 * Moves app.db and its -wal to `.app.db.rejected-<hex>` so no committed write is lost and no stray WAL is
 * replayed onto another file; the operator decides what to do with it (the log says where it is).
 */
export function moveRejectedAside(dir: string, logger: Logger, ports: RecoveryPorts = {}): string {
  const { ops, ids } = withDefaults(logger, ports);
  const aside = path.join(dir, rejectedName(ids));
  const appDb = path.join(dir, DB_FILE);
  ops.renameSync(appDb, aside);
  if (existsSync(`${appDb}-wal`)) ops.renameSync(`${appDb}-wal`, `${aside}-wal`);
  ops.rmSync(`${appDb}-shm`);
  logger.warn({ dir, file: path.basename(aside) }, "a rejected database file was kept aside with its writes");
  return aside;
}

function sameFile(a: string, b: string): boolean {
  const [x, y] = [statSync(a, { throwIfNoEntry: false }), statSync(b, { throwIfNoEntry: false })];
  return x !== undefined && y !== undefined && x.ino === y.ino && x.dev === y.dev;
}

/** An older safety copy a restore had moved aside: it goes back unless a newer app.db.pre_restore took its place. */
function recoverOldSafetyCopy(dir: string, name: string, { logger, ops }: Io): void {
  const preRestore = path.join(dir, PRE_RESTORE_FILE);
  if (existsSync(preRestore)) {
    ops.rmSync(path.join(dir, name));
    logger.info({ dir, file: name }, "recovery: removed the previous safety copy a restore replaced");
  } else {
    ops.renameSync(path.join(dir, name), preRestore);
    ops.fsyncDirSync(dir);
    logger.warn({ dir }, "recovery: put the previous app.db.pre_restore back");
  }
}

/** Removes what an interrupted backup left: hidden temp files and their journals. */
export function removeBackupLeftovers(dir: string, logger: Logger, ports: RecoveryPorts = {}): void {
  const io = withDefaults(logger, ports);
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    if (BACKUP_TEMP.test(name)) {
      io.ops.rmSync(path.join(dir, name));
      io.logger.info({ dir, file: name }, "recovery: removed a leftover backup temp file");
    }
  }
  removeAtomicWriteLeftovers(dir, io.logger, io);
}

/**
 * Removes the temp files interrupted atomic writes left (records, intents, settings): the file they were
 * replacing is intact. Only those no live process holds (I4): a CLI starting beside the server leaves the
 * server's writes in flight alone. `owns` narrows a shared directory to one database's files.
 */
export function removeAtomicWriteLeftovers(
  dir: string,
  logger: Logger,
  ports: RecoveryPorts = {},
  owns: (target: string) => boolean = () => true,
) {
  const { ops } = withDefaults(logger, ports);
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const target = ATOMIC_WRITE_TEMP.exec(name)?.[1] ?? abandonedTemp(dir, name, "tmp")?.base;
    if (target === undefined || !owns(target)) continue;
    ops.rmSync(path.join(dir, name));
    logger.info({ dir, file: name }, "recovery: removed a leftover temp file of an interrupted write");
  }
}

/**
 * A torn or foreign intent reads as none (the staged file it named is then unknown); one of a version this
 * build does not know throws (FormatVersionError): guessing could undo a restore a newer build finished.
 */
function readIntent(file: string): RestoreIntent | null {
  try {
    return restoreIntentFormat.parse(readFileSync(file, "utf8"), file);
  } catch (error) {
    if (error instanceof FormatVersionError) throw error;
    return null;
  }
}
