import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import type { AppDb } from "../../db/connection.js";
import { AUTH_RESET_MARKER } from "../../db/paths.js";
import { writeFileAtomic } from "../../lib/durable-fs.js";
import type { RestoreHook, ServiceDeps } from "../deps.js";
import { applyRevocations, readRevocations } from "./revocations.js";
import { deleteAllSessions } from "./sessions.js";
import { AUTH_DATABASE } from "./types.js";

/** Present from just before a restore of `default` swaps files until its credentials were reset. */
function resetMarker(deps: ServiceDeps): string {
  return path.join(deps.paths.root, AUTH_RESET_MARKER);
}

async function resetCredentials(deps: ServiceDeps, db: AppDb): Promise<void> {
  const revoked = await readRevocations(deps);
  const now = deps.now().getTime();
  const { sessions, keys } = db.transaction(() => ({
    sessions: deleteAllSessions(db),
    keys: applyRevocations(db, revoked, now),
  }));
  await rm(resetMarker(deps), { force: true });
  deps.logger.info({ sessionsEnded: sessions, keysRevokedAgain: keys }, "credentials reset after restore");
}

/**
 * Restoring `default` replaces credentials with the backup's: every session ends and keys revoked
 * since the backup was taken stay revoked. Runs inside the restore's exclusive section.
 */
export const authRestoreHook: RestoreHook = {
  async beforeSwap(deps, database) {
    if (database === AUTH_DATABASE) await writeFileAtomic(resetMarker(deps), `${deps.now().toISOString()}\n`);
  },
  async afterOpen(deps, database, db) {
    if (database === AUTH_DATABASE) await resetCredentials(deps, db);
  },
};

/**
 * At start-up: re-applies recorded revocations, and finishes a credentials reset that a crash
 * interrupted (a restore swapped the file but the sessions it brought back were not ended yet).
 */
export async function reconcileCredentials(deps: ServiceDeps): Promise<void> {
  const holder = deps.registry.holder(AUTH_DATABASE);
  if (existsSync(resetMarker(deps))) {
    await holder.lease((db) => resetCredentials(deps, db));
    return;
  }
  const revoked = await readRevocations(deps);
  const changed = await holder.lease((db) => applyRevocations(db, revoked, deps.now().getTime()));
  if (changed > 0) deps.logger.warn({ keys: changed }, "re-applied API key revocations at start-up");
}
