import { existsSync } from "node:fs";
import path from "node:path";
import { NotFoundError } from "../../errors.js";
import { deleteBackup } from "../backup/delete.js";
import { resolveBackupPath } from "../backup/files.js";
import type { ServiceDeps } from "../deps.js";
import { requireOffsite } from "./access.js";
import { deleteRemoteCopy } from "./copy.js";
import { headObject } from "./remote.js";
import { candidateKeys, legacyKeys } from "./settings.js";

export { type BucketTotals, bucketTotals } from "./bucket.js";
export { type FetchedBackup, type FetchOptions, fetchCopy } from "./fetch.js";
export {
  type BackupOffsite,
  LEGACY_INSTALL,
  listRemoteCopies,
  offsiteCounts,
  offsiteOfBackups,
  type RemoteBackup,
} from "./list.js";
export { OffsiteService } from "./service.js";
export { offsiteSettings } from "./settings.js";

/** Queues every copy of a database that is not done, due now; the server's queue uploads them in the background. */
export async function pushCopies(deps: ServiceDeps, database: string): Promise<{ database: string; queued: string[] }> {
  const service = requireOffsite(deps);
  deps.registry.holder(database);
  return { database, queued: await service.push(database) };
}

/**
 * `DELETE /backup/:f?offsite=true`: the remote copy first, so an unreachable store (503) leaves both in place,
 * then the local file. A backup that only exists remotely can be removed this way too.
 */
export async function deleteBackupEverywhere(deps: ServiceDeps, database: string, filename: string): Promise<void> {
  const service = requireOffsite(deps);
  deps.registry.holder(database);
  const dir = deps.paths.backupDir(database);
  const local = existsSync(resolveBackupPath(dir, filename));
  if (!local) {
    const keys = [
      ...candidateKeys(service.settings, database, filename),
      ...legacyKeys(service.settings, database, filename),
    ];
    const found = await Promise.all(keys.map((key) => headObject(service.client, service.settings.store.bucket, key)));
    if (found.every((meta) => meta === null)) {
      throw new NotFoundError(`backup "${filename}" does not exist here or off-site`, { filename });
    }
  }
  await deleteRemoteCopy(service.context, database, filename);
  service.collectSoon();
  if (local && existsSync(path.join(dir, filename))) await deleteBackup(deps, database, filename);
}
