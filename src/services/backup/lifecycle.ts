import { readdir } from "node:fs/promises";
import path from "node:path";
import type { ServiceDeps } from "../deps.js";
import { listBackupFiles } from "./files.js";
import { listLeftPreRestores } from "./pre-restore.js";
import { removeUploadLeftovers } from "./upload.js";

/**
 * The server's start for backups: interrupted uploads removed, side files earlier checks left beside
 * backups tidied, an unlisted app.db.pre_restore listed, then background verification begins with
 * whatever an earlier run left pending or never saw (files copied in by hand while it was down).
 */
export async function startBackupLifecycle(deps: ServiceDeps): Promise<void> {
  for (const database of deps.registry.names()) {
    await removeUploadLeftovers(deps, database);
    await tidyBackupSideFiles(deps, database);
  }
  await listLeftPreRestores(deps);
  await deps.verifications.start(deps);
}

/** A WAL-mode backup once verified read-only kept a `-wal`/`-shm` beside it for good; they go. */
async function tidyBackupSideFiles(deps: ServiceDeps, database: string): Promise<void> {
  const dir = deps.paths.backupDir(database);
  const names = new Set(await readdir(dir).catch(() => [] as string[]));
  for (const { filename } of await listBackupFiles(dir)) {
    if (!names.has(`${filename}-wal`) && !names.has(`${filename}-shm`)) continue;
    const file = path.join(dir, filename);
    const { removed } = await deps.tasks.run("tidySideFiles", { file }).catch((err: unknown) => {
      deps.logger.warn({ err, database, filename }, "recovery: could not tidy a backup's -wal/-shm");
      return { removed: false };
    });
    if (removed) deps.logger.info({ database, filename }, "recovery: removed the -wal/-shm beside a backup");
  }
}
