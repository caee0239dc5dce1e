import { readRecord } from "../backup/records.js";
import type { ServiceDeps } from "../deps.js";

/** The SHA-256 recorded when a backup was written, or null when there is no record (the copy hashes first). */
export type Sha256Lookup = (deps: ServiceDeps, database: string, filename: string) => Promise<string | null>;

/** The lifecycle's record of the backup (docs/format.md): the copy refuses a file whose bytes no longer match it. */
export const recordedSha256: Sha256Lookup = async (deps, database, filename) =>
  (await readRecord(deps.paths.backupDir(database), filename))?.sha256 ?? null;
