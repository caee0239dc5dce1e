import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { backupTempName, PRE_RESTORE_MARKER } from "../../db/paths.js";
import { fsyncDirAsync, removeDatabaseFile, writeFileAtomic } from "../../lib/durable-fs.js";
import { versionedJson } from "../../lib/format.js";
import type { ServiceDeps } from "../deps.js";
import { stampToDate } from "../schedules/stamp.js";
import { recordWritten } from "./create.js";
import { listBackupFiles, nextPrefixedName, parseBackupName } from "./files.js";
import { removeRecords } from "./records.js";
import { ensureFreeSpace } from "./storage.js";

/**
 * The marker (docs/format.md): which listed backup holds app.db.pre_restore's bytes. The file is identified by
 * inode, size and mtime, so a newer app.db.pre_restore (the next restore's) never passes for listed.
 */
const markerFormat = versionedJson(
  z.object({
    backup: z.string(),
    sha256: z.string(),
    ino: z.number(),
    size: z.number(),
    mtimeMs: z.number(),
  }),
);
type Marker = ReturnType<typeof markerFormat.parse>;

const nextPreRestoreName = nextPrefixedName("prerestore");
const DAY_MS = 86_400_000;

/**
 * Keeps every database a restore replaced retrievable (I1): `app.db.pre_restore` is listed as the backup
 * `prerestore_YYYYMMDD_HHMMSS.db`, named by when it was replaced (`replacedAt`; after a crash, the time the
 * file got its name). No-op when it is listed already or absent. The caller holds the operation lock.
 *
 * A copy, not a hard link: a link shares the inode, so anything that ever opened `app.db.pre_restore`
 * read-write (the manual procedure moves it back to `app.db`) would change the listed backup's bytes.
 * The copy is hashed as written, fsynced, renamed in, the directory fsynced; the marker is written only then,
 * so a crash lists the file again (a duplicate), never leaves it unlisted. Returns the listed file's name.
 */
export async function listPreRestore(deps: ServiceDeps, database: string, replacedAt?: Date): Promise<string | null> {
  const source = deps.paths.preRestoreFile(database);
  const info = await stat(source).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw error;
  });
  if (!info) return null;
  const markerFile = path.join(deps.paths.dbDir(database), PRE_RESTORE_MARKER);
  const marker = await readMarker(markerFile);
  if (marker && marker.ino === info.ino && marker.size === info.size && marker.mtimeMs === info.mtimeMs) {
    return marker.backup;
  }
  const started = performance.now();
  const dir = deps.paths.backupDir(database);
  await mkdir(dir, { recursive: true });
  await ensureFreeSpace(dir, info.size, deps.config.backupFreeMarginBytes);
  const filename = nextPreRestoreName(dir, replacedAt ?? info.ctime);
  const temp = path.join(dir, backupTempName(filename));
  let written: { sha256: string; size: number };
  try {
    written = await deps.tasks.run("copyHashed", { src: source, dest: temp });
    await rename(temp, path.join(dir, filename));
    await fsyncDirAsync(dir);
  } catch (error) {
    await removeDatabaseFile(temp);
    throw error;
  }
  const created_at = parseBackupName(filename)?.createdAt ?? "";
  await recordWritten(deps, database, { filename, ...written, created_at });
  const next: Marker = {
    backup: filename,
    sha256: written.sha256,
    ino: info.ino,
    size: info.size,
    mtimeMs: info.mtimeMs,
  };
  await writeFileAtomic(markerFile, markerFormat.serialize(next));
  const durationMs = Math.round(performance.now() - started);
  deps.logger.info({ database, filename, size: written.size, durationMs }, "replaced database listed as a backup");
  deps.events.emit({ type: "backup.written", database, filename, kind: "pre-restore", size: written.size, durationMs });
  await prunePreRestores(deps, database, filename);
  return filename;
}

/** An unreadable marker (torn by hand, or a newer build's) counts as absent: listing twice loses nothing. */
async function readMarker(file: string): Promise<Marker | null> {
  const text = await readFile(file, "utf8").catch(() => null);
  if (text === null) return null;
  try {
    return markerFormat.parse(text, file);
  } catch {
    return null;
  }
}

/**
 * The pre-restore rule, the only one that removes these backups (a schedule's retention never does). It keeps
 * I1 for the databases restores replaced: the newest `CHAOSCYPHER_PRE_RESTORE_KEEP_LAST` (3) stay, every one
 * younger than `..._KEEP_DAYS` (7) days by the clock stays (one dated in the future counts as young), every one
 * made on one of the newest `..._KEEP_DAYS` days (UTC) that had a restore stays, and `keep`, the one just listed,
 * always stays. The day rule needs no clock: a clock jumped ahead (40 days) makes every copy look old by age,
 * never by day, so it cannot prune the minutes-old copy that is the only one of the writes before a restore.
 */
export async function prunePreRestores(deps: ServiceDeps, database: string, keep: string): Promise<string[]> {
  const dir = deps.paths.backupDir(database);
  const preRestores = (await listBackupFiles(dir)).filter((b) => b.kind === "pre-restore");
  const youngFrom = deps.now().getTime() - deps.config.preRestoreKeepDays * DAY_MS;
  const recentDays = new Set(
    [...new Set(preRestores.map((b) => b.created_at.slice(0, 8)))].slice(0, Math.ceil(deps.config.preRestoreKeepDays)),
  );
  const removed: string[] = [];
  for (const [index, backup] of preRestores.entries()) {
    if (index < deps.config.preRestoreKeepLast || backup.filename === keep) continue;
    if (recentDays.has(backup.created_at.slice(0, 8))) continue;
    if (!(stampToDate(backup.created_at).getTime() < youngFrom)) continue;
    await rm(path.join(dir, backup.filename), { force: true });
    await removeRecords(dir, backup.filename);
    deps.logger.info({ database, filename: backup.filename }, "pre-restore backup removed by its retention rule");
    deps.events.emit({ type: "backup.deleted", database, filename: backup.filename, reason: "retention" });
    removed.push(backup.filename);
  }
  return removed;
}

/**
 * At the server's start: an `app.db.pre_restore` with no listed twin (a crash between a restore's swap and its
 * listing, or one left by a version before pre-restore backups) is listed now. A busy database is skipped:
 * its next restore lists it first.
 */
export async function listLeftPreRestores(deps: ServiceDeps): Promise<void> {
  for (const database of deps.registry.names()) {
    const lock = deps.locks.tryAcquire(database, "restore");
    if (!lock) continue;
    try {
      await listPreRestore(deps, database);
    } catch (err) {
      deps.logger.error({ err, database }, "could not list app.db.pre_restore as a backup; it stays in place");
    } finally {
      lock.release();
    }
  }
}
