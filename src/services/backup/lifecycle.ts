import type { ServiceDeps } from "../deps.js";
import { removeUploadLeftovers } from "./upload.js";

/**
 * The server's start for backups: interrupted uploads removed, then background verification begins with
 * whatever an earlier run left pending or never saw (files copied in by hand while it was down).
 */
export async function startBackupLifecycle(deps: ServiceDeps): Promise<void> {
  for (const database of deps.registry.names()) await removeUploadLeftovers(deps, database);
  await deps.verifications.start(deps);
}
