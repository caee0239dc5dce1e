export { requireUnchanged } from "./checksums.js";
export { type BackupCreated, createBackup } from "./create.js";
export { deleteBackup } from "./delete.js";
export { type BackupDownload, openBackupDownload } from "./download.js";
export type { BackupEntry, BackupKind } from "./files.js";
export { startBackupLifecycle } from "./lifecycle.js";
export { type ListedBackup, listBackups } from "./list.js";
export {
  type BackupRecord,
  readRecord,
  removeRecords,
  sidecarPath,
  updateRecord,
  type Verification,
  type VerificationState,
} from "./records.js";
export { type RestoreResult, restoreBackup } from "./restore.js";
export { type BackupUploaded, importBackup, receiveUpload } from "./upload.js";
export { VerificationQueue, type VerifyOutcome, verifyBackup } from "./verification.js";
