import type { ServiceDeps } from "../deps.js";
import { type BackupOffsite, offsiteOfBackups } from "../offsite/list.js";
import { type BackupEntry, listBackupFiles } from "./files.js";

export async function listBackups(
  deps: ServiceDeps,
  database: string,
): Promise<{ database: string; backups: (BackupEntry & { offsite: BackupOffsite | null })[] }> {
  deps.registry.holder(database);
  const backups = await listBackupFiles(deps.paths.backupDir(database));
  const offsite = await offsiteOfBackups(
    deps,
    database,
    backups.map((b) => b.filename),
  );
  return { database, backups: backups.map((b) => ({ ...b, offsite: offsite.get(b.filename) ?? null })) };
}
