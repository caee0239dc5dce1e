import { readRecord } from "../backup/records.js";
import type { ServiceDeps } from "../deps.js";

/** Whether a backup counts as good for retention and the UI's warning: its verification has not failed. */
export type IsGood = (database: string, filename: string) => boolean | Promise<boolean>;

/**
 * From the backup's record (src/services/backup/records.ts): good unless its verification failed. A backup
 * still pending (or copied in by hand and not yet seen) counts as good until a verification says otherwise.
 */
export function defaultIsGood(deps: ServiceDeps): IsGood {
  return async (database, filename) => {
    const record = await readRecord(deps.paths.backupDir(database), filename);
    return record?.verification.state !== "failed";
  };
}
