import type { ServiceDeps } from "../deps.js";
import { listLeftPreRestores } from "./pre-restore.js";
import { removeUploadLeftovers } from "./upload.js";

/**
 * The server's start for backups: interrupted uploads removed, an unlisted app.db.pre_restore listed, then
 * background verification begins with whatever an earlier run left pending or never saw (files copied in by hand).
 */
export async function startBackupLifecycle(deps: ServiceDeps): Promise<void> {
  for (const database of deps.registry.names()) await removeUploadLeftovers(deps, database);
  await listLeftPreRestores(deps);
  await deps.verifications.start(deps);
}
