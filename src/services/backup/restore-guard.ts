import { InvalidBackupError } from "../../errors.js";
import type { ServiceDeps } from "../deps.js";
import { listBackupFiles } from "./files.js";
import { readRecord } from "./records.js";

/**
 * A backup whose last verification failed is not restored unless the operator insists (`force`): its bytes or
 * its SQLite structure were found damaged. Refused before anything is staged, so nothing changes.
 */
export async function refuseFailedVerification(
  deps: ServiceDeps,
  database: string,
  filename: string,
  force: boolean,
): Promise<void> {
  const dir = deps.paths.backupDir(database);
  const record = await readRecord(dir, filename);
  if (force || record?.verification.state !== "failed") return;
  const newestGood = await newestVerifiedBackup(deps, database);
  const why = record.verification.error ? ` (${record.verification.error})` : "";
  const instead = newestGood
    ? `the newest good backup is ${newestGood}`
    : "no backup of this database has passed verification";
  throw new InvalidBackupError(
    `nothing was changed: ${filename} failed its last verification at ${record.verification.at}${why}; ${instead}. Restore that one, or force this restore if you accept the damage`,
    { reason: "verification_failed", filename, newest_good_backup: newestGood },
  );
}

/** The newest backup whose last verification passed, or null. */
export async function newestVerifiedBackup(deps: ServiceDeps, database: string): Promise<string | null> {
  const dir = deps.paths.backupDir(database);
  // listBackupFiles is newest first.
  for (const entry of await listBackupFiles(dir)) {
    if ((await readRecord(dir, entry.filename))?.verification.state === "ok") return entry.filename;
  }
  return null;
}
