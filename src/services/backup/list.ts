import { readdir } from "node:fs/promises";
import type { ServiceDeps } from "../deps.js";
import { type BackupOffsite, offsiteOfBackups } from "../offsite/list.js";
import { type BackupEntry, listBackupFiles } from "./files.js";
import { type BackupSource, PENDING, readRecord, removeOrphanRecords, type Verification } from "./records.js";

export interface ListedBackup extends BackupEntry {
  /** Null only until a file put there by hand has been hashed. */
  sha256: string | null;
  verification: Verification;
  /** The off-site copy: `{state: "disabled"}` when off-site copies are not configured. */
  offsite: BackupOffsite | null;
  /** An upload's or import's original file name and arrival time; absent for backups this service took. */
  source?: BackupSource;
}

/**
 * Backups newest first with what the service recorded about them. A file without a record (copied in by
 * hand) or still pending is queued for verification; records of files deleted from outside are removed.
 */
export async function listBackups(
  deps: ServiceDeps,
  database: string,
): Promise<{ database: string; backups: ListedBackup[] }> {
  deps.registry.holder(database);
  const dir = deps.paths.backupDir(database);
  const files = await listBackupFiles(dir);
  const offsite = await offsiteOfBackups(
    deps,
    database,
    files.map((f) => f.filename),
  );
  const backups: ListedBackup[] = [];
  for (const entry of files) {
    const record = await readRecord(dir, entry.filename);
    if (!record || record.verification.state === "pending") deps.verifications.enqueue(database, entry.filename);
    backups.push({
      ...entry,
      sha256: record?.sha256 ?? null,
      verification: record?.verification ?? PENDING,
      offsite: offsite.get(entry.filename) ?? null,
      ...(record?.source ? { source: record.source } : {}),
    });
  }
  await removeOrphanRecords(dir, await readdir(dir).catch(() => []));
  return { database, backups };
}
