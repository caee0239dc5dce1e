import path from "node:path";
import type { Ids } from "../lib/ids.js";

/**
 * Every name the service gives a file in the data dir, built here and nowhere else (docs/format.md lists
 * each with its writer and format). Recovery and the sweeps recognise leftovers by the same patterns.
 */

/** Names inside `databases/<db>/`. */
export const DB_FILE = "app.db";
export const PRE_RESTORE_FILE = "app.db.pre_restore";
/** Which listed `pre-restore` backup holds a copy of app.db.pre_restore (its inode, size, mtime and sha256). */
export const PRE_RESTORE_MARKER = "app.db.pre_restore.json";
export const RESTORE_INTENT = "restore.intent";
export const UPGRADE_STATE_FILE = "upgrade-state.json";
/** A restore's validated copy, next to app.db until it is renamed over it. */
export const STAGED_PREFIX = ".app.db.restore-";
/** The previous safety copy, moved aside before a restore's gate closes and deleted once it succeeded. */
export const OLD_SAFETY_PREFIX = ".app.db.pre_restore.old-";
/** A restored file a rollback rejected, or a stray one found in app.db's place: kept for the operator, never deleted. */
export const REJECTED_PREFIX = ".app.db.rejected-";
/** The operation lock: an empty SQLite file whose exclusive lock (fcntl, held by the kernel) is the lock. */
export const LOCK_FILE = ".operation.lock.sqlite";
/** What the lock's holder is doing, for messages only: never trusted for exclusion. */
export const LOCK_INFO_FILE = ".operation.lock.json";

/** Every random part of a name comes from the process's `deps.ids` (lib/ids.ts), which a seeded run replaces. */
export const stagedName = (ids: Ids) => `${STAGED_PREFIX}${ids.hex(4)}`;
export const oldSafetyName = (ids: Ids) => `${OLD_SAFETY_PREFIX}${ids.hex(4)}`;
export const rejectedName = (ids: Ids) => `${REJECTED_PREFIX}${ids.hex(4)}`;

/** Names inside `backups/<db>/`. */
/** A backup being written (`VACUUM INTO`): `.<final name>.tmp-<hex>`, renamed into place once fsynced. */
export const backupTempName = (finalName: string, ids: Ids) => `.${finalName}.tmp-${ids.hex(4)}`;
/**
 * Any kind's backup temp (app_, auto_, pre-…) with SQLite's side files. Every writer of one holds the
 * database's operation lock, and recovery sweeps only while holding it.
 */
export const BACKUP_TEMP = /^\.[^.][^/]*\.db\.tmp-[0-9a-f]+(-journal|-wal|-shm)?$/;
/** An upload being received: `.upload.tmp-<hex>`. */
export const uploadTempName = (ids: Ids) => `.upload.tmp-${ids.hex(6)}`;
export const UPLOAD_TEMP = /^\.upload\.tmp-[0-9a-f]+(-journal|-wal|-shm)?$/;
/** An off-site copy being fetched: `.<filename>.fetch-<hex>`. */
export const fetchTempName = (filename: string, ids: Ids) => `.${filename}.fetch-${ids.hex(4)}`;
export const FETCH_TEMP = /^\..+\.fetch-[0-9a-f]+$/;
/** A backup's record: `.<filename>.json`; another area's record of it: `.<filename>.<area>.json`. */
export const recordName = (filename: string, area?: string) =>
  area ? `.${filename}.${area}.json` : `.${filename}.json`;
/** Any record of any area: group 1 is the backup filename it belongs to. */
export const RECORD = /^\.(.+?\.db)(?:\.[a-z0-9_-]+)?\.json$/;
/** A pruned backup's remote copy still to be deleted: `.<filename>.offsite-delete`. */
export const TOMBSTONE_SUFFIX = ".offsite-delete";
export const tombstoneName = (filename: string) => `.${filename}${TOMBSTONE_SUFFIX}`;
/** What this install's objects of the database took in the bucket when last listed (off-site `bucket.ts`). */
export const OFFSITE_BUCKET_FILE = ".offsite-bucket.json";

/** Anywhere: an atomic write's temp as older versions named it, `.<name>.<8 hex>.tmp`; now `.<name>.tmp-<pid>-<hex>` (src/lib/temp-names.ts). */
export { ATOMIC_WRITE_TEMP } from "../lib/durable-fs.js";

/** In the data dir: verifications take turns on this lock file (one reads the disk at a time). */
export const VERIFICATION_LOCK = ".verification.lock";

/** In the data dir: present from just before a restore of `default` swaps files until its credentials were reset. */
export const AUTH_RESET_MARKER = ".auth-reset-pending";
/** In the data dir: one file per revoked API key id, so a restore of an older backup cannot bring a key back. */
export const REVOKED_KEYS_DIR = "revoked-keys";

/** Every on-disk location the service uses, derived from the data dir. */
export interface DataPaths {
  root: string;
  databasesDir: string;
  backupsDir: string;
  schedulesDir: string;
  settingsFile: string;
  dbDir(name: string): string;
  dbFile(name: string): string;
  preRestoreFile(name: string): string;
  restoreIntentFile(name: string): string;
  upgradeStateFile(name: string): string;
  backupDir(name: string): string;
  /** The running server's control socket. */
  controlSocket: string;
}

export function dataPaths(root: string): DataPaths {
  const databasesDir = path.join(root, "databases");
  const backupsDir = path.join(root, "backups");
  const dbDir = (name: string) => path.join(databasesDir, name);
  return {
    root,
    databasesDir,
    backupsDir,
    schedulesDir: path.join(root, "schedules"),
    settingsFile: path.join(root, "server-settings.json"),
    dbDir,
    dbFile: (name) => path.join(dbDir(name), DB_FILE),
    preRestoreFile: (name) => path.join(dbDir(name), PRE_RESTORE_FILE),
    restoreIntentFile: (name) => path.join(dbDir(name), RESTORE_INTENT),
    upgradeStateFile: (name) => path.join(dbDir(name), UPGRADE_STATE_FILE),
    backupDir: (name) => path.join(backupsDir, name),
    controlSocket: path.join(root, CONTROL_SOCKET),
  };
}

/** `schedules/<db>.json` (the operator's settings) and `schedules/<db>.state.json` (the scheduler's record). */
export const scheduleSettingsName = (database: string) => `${database}.json`;
export const scheduleStateName = (database: string) => `${database}.state.json`;

/** In the data dir: the running server's control socket (0600); the CLI's write commands go through it. */
export const CONTROL_SOCKET = "chaoscypher.sock";
