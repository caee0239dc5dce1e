import { readRecord, type VerificationState } from "../backup/records.js";
import type { ServiceDeps } from "../deps.js";

/** Whether a backup counts as good for the UI's warning: its verification has not failed. */
export type IsGood = (database: string, filename: string) => boolean | Promise<boolean>;

/** A backup's verification state as retention sees it. */
export type VerificationOf = (database: string, filename: string) => VerificationState | Promise<VerificationState>;

/** From the backup's record (src/services/backup/records.ts); a backup copied in by hand and not yet seen is pending. */
export function defaultVerificationOf(deps: ServiceDeps): VerificationOf {
  return async (database, filename) => {
    const record = await readRecord(deps.paths.backupDir(database), filename);
    return record?.verification.state ?? "pending";
  };
}

/** Good unless its verification failed: a pending backup counts as good until a verification says otherwise. */
export function defaultIsGood(deps: ServiceDeps): IsGood {
  const verificationOf = defaultVerificationOf(deps);
  return async (database, filename) => (await verificationOf(database, filename)) !== "failed";
}
