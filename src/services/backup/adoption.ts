import { stat } from "node:fs/promises";
import path from "node:path";
import type { ServiceDeps } from "../deps.js";
import { readRecord } from "./records.js";

/**
 * A file the service did not write (copied into backups/<db>/ by hand, by rsync, by a restore from tape) is
 * adopted, its checksum recorded for good, only once nothing has changed it for CHAOSCYPHER_ADOPT_STABLE_MS:
 * hashing it while it is still being copied would record the hash of a partial file and refuse the complete
 * one later. "Changed" is the later of its mtime and ctime (ctime moves with every write, truncate, rename
 * and `touch`, and cannot be set back), against this machine's clock.
 */
export async function msUntilSettled(deps: ServiceDeps, file: string): Promise<number | null> {
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) return null;
  const changed = Math.max(info.mtimeMs, info.ctimeMs);
  // The machine's clock, not deps.clock: mtime and ctime are stamped by the kernel with the machine's time.
  return Math.max(0, Math.ceil(changed + deps.config.adoptStableMs - Date.now()));
}

/**
 * Whether a backup may be read as what it will stay: one the service wrote or already adopted (it has a
 * record), or a file by hand that has settled. The off-site copy asks before it picks a file up.
 */
export async function isSettledBackup(deps: ServiceDeps, database: string, filename: string): Promise<boolean> {
  const dir = deps.paths.backupDir(database);
  if (await readRecord(dir, filename)) return true;
  return (await msUntilSettled(deps, path.join(dir, filename))) === 0;
}
