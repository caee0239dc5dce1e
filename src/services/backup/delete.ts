import { rm } from "node:fs/promises";
import type { ServiceDeps } from "../deps.js";
import { requireBackupFile } from "./files.js";
import { removeRecords } from "./records.js";

export async function deleteBackup(deps: ServiceDeps, database: string, filename: string): Promise<void> {
  deps.registry.holder(database);
  const file = requireBackupFile(deps.paths.backupDir(database), filename);
  await rm(file);
  await removeRecords(deps.paths.backupDir(database), filename);
  deps.logger.info({ database, filename, operation: "delete" }, "backup deleted");
  deps.events.emit({ type: "backup.deleted", database, filename, reason: "user" });
}
