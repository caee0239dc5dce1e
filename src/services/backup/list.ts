import type { ServiceDeps } from "../deps.js";
import { type BackupEntry, listBackupFiles } from "./files.js";

export async function listBackups(
  deps: ServiceDeps,
  database: string,
): Promise<{ database: string; backups: BackupEntry[] }> {
  deps.registry.holder(database);
  return { database, backups: await listBackupFiles(deps.paths.backupDir(database)) };
}
