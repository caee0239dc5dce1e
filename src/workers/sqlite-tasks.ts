import { closeSync, copyFileSync, openSync, readSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import { applyMigrations, hasMigrationsTable, lastAppliedMillis, type Migration } from "../db/migrations.js";
import { checkReadable, openForCheck, openSqlite, type Sqlite } from "../db/sqlite.js";
import { fsyncDir, fsyncFile, removeWithJournal } from "../lib/durable-fs-sync.js";
import { type HashResult, hashFile } from "./hash.js";

/** Work that must stay off the event loop: each task runs in a worker thread with its own connection. */

// Also exported from here for the tasks' callers that imported them before they moved to src/lib.
export { fsyncDir, fsyncFile, removeWithJournal };

export interface VacuumArgs {
  src: string;
  temp: string;
}

/**
 * A compacted, consistent copy of a live database: VACUUM INTO a temp name, fsynced; the caller renames it into
 * place through its file port (deps.fileOps). The copy's SHA-256 is read back from disk in this same worker (the
 * record's sha256, docs/format.md) while the fsync runs.
 */
export function vacuumInto({ src, temp }: VacuumArgs): Promise<HashResult> {
  return copyToTemp(src, temp, (sqlite) => {
    // VACUUM INTO syncs the copy as the source's connection would; our own fsync does it instead, while the
    // copy is hashed (otherwise SQLite's sync already flushed it and the hash ran on its own).
    sqlite.pragma("synchronous = OFF");
    sqlite.prepare("VACUUM INTO ?").run(temp);
  });
}

/**
 * A page-preserving copy of a live database (scheduled backups): SQLite's online backup API in one step, so it
 * holds one read transaction (WAL writers go on) and page N of the copy is page N of the database. Two such copies
 * differ only in the pages that changed, which is what an incremental off-site copy uploads. Same temp, fsync
 * and hash as VACUUM INTO (the caller renames it into place); the copy is a plain SQLite file a person can cp back.
 */
export function pageCopy({ src, temp }: VacuumArgs): Promise<HashResult> {
  // The first step (0 pages) only sizes the copy; the second copies every page under one read transaction.
  return copyToTemp(src, temp, async (sqlite) => {
    await sqlite.backup(temp, { progress: () => 0x7fffffff });
    await markRollbackJournal(temp);
  });
}

/**
 * The online backup copies page 1 as it is, WAL flag included, though the copy holds every page in the file itself.
 * A backup stays in rollback-journal mode, as a `VACUUM INTO` copy is: reading it never creates a `-wal`/`-shm`
 * beside it (one a killed reader would leave). Bytes 18-19 of the header are the journal mode: 1 rollback, 2 WAL.
 */
async function markRollbackJournal(file: string): Promise<void> {
  const handle = await open(file, "r+");
  try {
    await handle.write(Buffer.from([1, 1]), 0, 2, 18);
  } finally {
    await handle.close();
  }
}

/** Writes `temp` from a read-only connection to `src`, then hashes it while it is fsynced; no temp is left on failure. */
async function copyToTemp(src: string, temp: string, write: (sqlite: Sqlite) => unknown): Promise<HashResult> {
  const sqlite = openSqlite(src, { readonly: true });
  try {
    // The copy streams pages once; the default cache (16 MB for the source and again for the copy) buys nothing.
    sqlite.pragma("cache_size = -2048");
    await write(sqlite);
  } catch (error) {
    removeWithJournal(temp);
    throw error;
  } finally {
    sqlite.close();
  }
  try {
    return await hashWhileFlushing(temp);
  } catch (error) {
    removeWithJournal(temp);
    throw error;
  }
}

/**
 * Hashes a file while the thread pool fsyncs it. The freshly written file is in the page cache, so the
 * hash reads the very bytes the fsync writes back, and its pass overlaps the disk's write instead of following it.
 */
async function hashWhileFlushing(file: string): Promise<HashResult> {
  const handle = await open(file, "r+");
  try {
    const flushed = handle.sync();
    try {
      return hashFile({ file });
    } finally {
      await flushed;
    }
  } finally {
    await handle.close();
  }
}

export interface PrepareSwapArgs {
  /** The validated copy that is about to become app.db. */
  staged: string;
  /** The live app.db it replaces. */
  live: string;
}

/**
 * The slow parts of a restore's swap, done before its gate closes, so requests wait only for renames:
 * the staged copy is switched to WAL mode (a VACUUM INTO copy is in rollback-journal mode; only its header
 * changes), and the live WAL is copied back (PASSIVE: nobody waits) and then truncated, which frees its
 * blocks (a WAL that grew to 1 GiB during a backup took ~270 ms). TRUNCATE briefly holds writers back, so
 * it waits at most 1 s for readers; if it cannot finish, the gate's own checkpoint does the rest.
 */
export function prepareSwap({ staged, live }: PrepareSwapArgs): { walTruncated: boolean } {
  openSqlite(staged, { mustExist: true }).close();
  fsyncFile(staged);
  const sqlite = openSqlite(live, { mustExist: true });
  try {
    sqlite.pragma("wal_checkpoint(PASSIVE)");
    sqlite.pragma("busy_timeout = 1000");
    const [row] = sqlite.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[];
    return { walTruncated: row?.busy === 0 };
  } finally {
    sqlite.close();
  }
}

export interface CheckpointArgs {
  file: string;
}

/** The gate's checkpoint, off the main thread: readers get a short wait, then the restore is refused. */
export function checkpointForSwap({ file }: CheckpointArgs): { walTruncated: boolean } {
  const sqlite = openSqlite(file, { busyTimeoutMs: 250, mustExist: true });
  try {
    const [row] = sqlite.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[];
    return { walTruncated: row?.busy === 0 };
  } finally {
    sqlite.close();
  }
}

export interface CopyArgs {
  src: string;
  dest: string;
}

export function copyDurably({ src, dest }: CopyArgs): void {
  try {
    copyFileSync(src, dest);
    fsyncFile(dest);
  } catch (error) {
    removeWithJournal(dest);
    throw error;
  }
}

/**
 * The copy `backup import` takes of a file from elsewhere. A WAL-mode database's committed transactions may
 * still be in its `-wal` beside it, which a byte copy of the main file drops: then the copy is read through
 * SQLite (a read-only connection sees the WAL) and written with VACUUM INTO, a consistent, self-contained
 * file in rollback-journal mode. Without a `-wal` (or an empty one) the bytes are copied as they are.
 */
export function copyForImport({ src, dest }: CopyArgs): { throughSqlite: boolean } {
  const wal = statSync(`${src}-wal`, { throwIfNoEntry: false });
  if (!wal || wal.size === 0) {
    copyDurably({ src, dest });
    return { throughSqlite: false };
  }
  let sqlite: ReturnType<typeof openSqlite> | undefined;
  try {
    sqlite = openSqlite(src, { readonly: true });
    sqlite.prepare("VACUUM INTO ?").run(dest);
    sqlite.close();
    sqlite = undefined;
    fsyncFile(dest);
    return { throughSqlite: true };
  } catch (error) {
    sqlite?.close();
    removeWithJournal(dest);
    throw new Error(
      `${path.basename(src)} has committed transactions in ${path.basename(src)}-wal that could not be read ` +
        `(${(error as Error).message}); nothing was imported. Checkpoint it first: ` +
        `sqlite3 ${src} "PRAGMA wal_checkpoint(TRUNCATE)"`,
    );
  }
}

export type ValidationResult =
  | { ok: true; lastApplied: number }
  | { ok: false; reason: "not_sqlite" | "corrupt" | "not_app_database" | "newer_schema"; message: string };

const SQLITE_HEADER = Buffer.from("SQLite format 3\0", "latin1");

export function hasSqliteHeader(file: string): boolean {
  const fd = openSync(file, "r");
  try {
    const header = Buffer.alloc(SQLITE_HEADER.length);
    const read = readSync(fd, header, 0, header.length, 0);
    return read === header.length && header.equals(SQLITE_HEADER);
  } finally {
    closeSync(fd);
  }
}

export interface ValidateArgs {
  file: string;
  /** The newest migration this build knows; a file past it was written by a newer build. */
  newestKnownMillis: number;
}

/** Everything a restore checks before it touches the live database: SQLite header, integrity_check, a migrations table, a schema not newer than this build. */
export function validateBackup({ file, newestKnownMillis }: ValidateArgs): ValidationResult {
  if (!hasSqliteHeader(file)) return { ok: false, reason: "not_sqlite", message: "the file is not a SQLite database" };
  let sqlite: ReturnType<typeof openSqlite> | undefined;
  try {
    sqlite = openForCheck(file);
    const rows = sqlite.pragma("integrity_check") as { integrity_check: string }[];
    const problems = rows.map((r) => r.integrity_check).filter((r) => r !== "ok");
    if (problems.length > 0) {
      return { ok: false, reason: "corrupt", message: `integrity check failed: ${problems.slice(0, 3).join("; ")}` };
    }
    if (!hasMigrationsTable(sqlite)) {
      return { ok: false, reason: "not_app_database", message: "the file is not a Chaos Cypher app database" };
    }
    const lastApplied = lastAppliedMillis(sqlite) ?? 0;
    if (lastApplied > newestKnownMillis) {
      return { ok: false, reason: "newer_schema", message: "the backup's schema is newer than this build" };
    }
    checkReadable(sqlite);
    return { ok: true, lastApplied };
  } catch (error) {
    return { ok: false, reason: "corrupt", message: `the file cannot be read: ${(error as Error).message}` };
  } finally {
    sqlite?.close();
  }
}

export interface MigrateArgs {
  file: string;
  migrations: Migration[];
}

/** Applies pending migrations to an existing file in one transaction, on the worker's own connection. */
export function migrateFile({ file, migrations }: MigrateArgs): { applied: string[] } {
  statSync(file);
  const sqlite = openSqlite(file);
  try {
    return { applied: applyMigrations(sqlite, migrations) };
  } finally {
    sqlite.close();
  }
}
