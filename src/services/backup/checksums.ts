import path from "node:path";
import { InvalidBackupError } from "../../errors.js";
import { removeDatabaseFile } from "../../lib/durable-fs.js";

import type { ServiceDeps } from "../deps.js";
import { type BackupRecord, readRecord, updateRecord } from "./records.js";

/** The 422 checksum_mismatch refusal for a file whose bytes no longer match the checksum recorded when it was written. */
function checksumMismatch(filename: string, record: BackupRecord, actual: string): InvalidBackupError {
  return new InvalidBackupError(`the bytes of ${filename} changed since it was written (checksum mismatch)`, {
    reason: "checksum_mismatch",
    expected_sha256: record.sha256,
    actual_sha256: actual,
  });
}

async function markFailed(deps: ServiceDeps, source: string, error: string): Promise<void> {
  const verification = { state: "failed" as const, at: deps.now().toISOString(), error };
  await updateRecord(path.dirname(source), path.basename(source), { verification }, deps.fileOps).catch((err) => {
    deps.logger.warn({ err, file: source }, "could not record the failed checksum");
  });
}

/**
 * Copies a backup to `dest` durably, hashing the bytes as they are copied (in a worker, one pass). A backup
 * with a recorded checksum that no longer matches is refused (422 checksum_mismatch) and `dest` removed;
 * a file without a record (never seen yet) is copied as is.
 */
export async function copyVerified(deps: ServiceDeps, source: string, dest: string): Promise<void> {
  const record = await readRecord(path.dirname(source), path.basename(source));
  if (!record) {
    await deps.tasks.run("copyDurably", { src: source, dest });
    return;
  }
  const { sha256 } = await deps.tasks.run("copyHashed", { src: source, dest });
  if (sha256 !== record.sha256) {
    await removeDatabaseFile(dest, deps.fileOps);
    const error = checksumMismatch(path.basename(source), record, sha256);
    await markFailed(deps, source, error.message);
    throw error;
  }
}

/** For readers that do not copy (an off-site push): hashes the file in a worker and refuses a changed one. */
export async function requireUnchanged(deps: ServiceDeps, source: string): Promise<BackupRecord | null> {
  const record = await readRecord(path.dirname(source), path.basename(source));
  if (!record) return null;
  const { sha256 } = await deps.tasks.run("hashFile", { file: source });
  if (sha256 !== record.sha256) {
    const error = checksumMismatch(path.basename(source), record, sha256);
    await markFailed(deps, source, error.message);
    throw error;
  }
  return record;
}
