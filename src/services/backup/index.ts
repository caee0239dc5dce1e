export { type BackupCreated, createBackup } from "./create.js";
export { deleteBackup } from "./delete.js";
export { type BackupDownload, openBackupDownload } from "./download.js";
export type { BackupEntry, BackupKind } from "./files.js";
export { listBackups } from "./list.js";
export { type RestoreResult, restoreBackup } from "./restore.js";
