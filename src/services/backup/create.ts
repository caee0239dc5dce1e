import { mkdir } from "node:fs/promises";
import path from "node:path";
import { backupTempName } from "../../db/paths.js";
import { logFailure } from "../../logger.js";

import type { ServiceDeps } from "../deps.js";
import { nextBackupName, parseBackupName } from "./files.js";
import { type BackupSource, PENDING, updateRecord } from "./records.js";
import { ensureFreeSpace } from "./storage.js";

export interface BackupCreated {
  database: string;
  filename: string;
  size: number;
  created_at: string;
  sha256: string;
}

/** Writes a compacted copy of a live database with VACUUM INTO in a worker; writers keep writing. */
export async function createBackup(deps: ServiceDeps, database: string): Promise<BackupCreated> {
  deps.registry.holder(database);
  const lock = deps.locks.acquire(database, "backup");
  try {
    return await writeBackup(deps, database, nextBackupName);
  } finally {
    lock.release();
  }
}

/**
 * The copy itself, named by `chooseName` inside the backup directory; the caller holds the database's
 * operation lock (a plain backup, or the automatic one an upgrade takes first).
 */
export async function writeBackup(
  deps: ServiceDeps,
  database: string,
  chooseName: (dir: string, now: Date) => string,
  /** `pages`: a page-preserving copy (scheduled backups, so off-site copies can be incremental). */
  method: "vacuum" | "pages" = "vacuum",
): Promise<BackupCreated> {
  const { registry, paths, logger, config } = deps;
  const started = performance.now();
  const dir = paths.backupDir(database);
  const log = logger.child({ database, operation: "backup" });
  // Named first (nothing is created yet), so success and failure report the same kind.
  const name = chooseName(dir, deps.now());
  const parsed = parseBackupName(name);
  const kind = parsed?.kind ?? "backup";
  let temp: string | undefined;
  try {
    await mkdir(dir, { recursive: true });
    await ensureFreeSpace(dir, registry.size(database), config.backupFreeMarginBytes);
    log.info({ filename: name }, "backup started");
    temp = path.join(dir, backupTempName(name, deps.ids));
    const task = method === "pages" ? "pageCopy" : "vacuumInto";
    const { size, sha256 } = await deps.tasks.run(task, { src: paths.dbFile(database), temp });
    // The copy is fsynced: renamed into place, then the directory fsynced, so the name never shows a partial file.
    await deps.fileOps.rename(temp, path.join(dir, name));
    await deps.fileOps.fsyncDir(dir);
    const created_at = parsed?.createdAt ?? "";
    await recordWritten(deps, database, { filename: name, size, sha256, created_at });
    const durationMs = Math.round(performance.now() - started);
    log.info({ filename: name, size, sha256, durationMs, outcome: "ok" }, "backup finished");
    deps.events.emit({ type: "backup.written", database, filename: name, kind, size, durationMs });
    return { database, filename: name, size, created_at, sha256 };
  } catch (error) {
    // The task removes its temp file when it fails; a worker ended by shutdown could not.
    if (temp) for (const suffix of ["", "-journal"]) await deps.fileOps.rm(`${temp}${suffix}`);
    const durationMs = Math.round(performance.now() - started);
    logFailure(log, error, { durationMs, outcome: "failed" }, "backup failed");
    deps.events.emit({ type: "backup.failed", database, kind, error: (error as Error).message, durationMs });
    throw error;
  }
}

/**
 * The record of a file the service just wrote, then its background verification. The backup is already
 * safe on disk: a record that cannot be written is logged, and the file is hashed again when next listed.
 */
export async function recordWritten(
  deps: ServiceDeps,
  database: string,
  written: { filename: string; size: number; sha256: string; created_at: string; source?: BackupSource },
): Promise<void> {
  const { filename, ...record } = written;
  try {
    const dir = deps.paths.backupDir(database);
    await updateRecord(dir, filename, { ...record, verification: PENDING }, deps.fileOps);
  } catch (err) {
    deps.logger.warn({ err, database, filename }, "could not write the backup's record");
  }
  deps.verifications.enqueue(database, filename);
}
