import { existsSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { heldLock, lockDatabase } from "../locks.js";

/**
 * One copy of a backup at a time across processes (the server, the CLI's push): whoever uploads a backup, or
 * aborts its incomplete multipart uploads, holds its claim, `backups/<db>/.<filename>.offsite.lock`. It is the
 * operation locks' kernel lock (an fcntl lock held through SQLite's `BEGIN EXCLUSIVE`), so a process that dies
 * releases it at once and nothing is guessed from a pid.
 */
export interface CopyClaim {
  release(): void;
}

const SUFFIX = ".offsite.lock";

export const claimPath = (dir: string, filename: string) => path.join(dir, `.${filename}${SUFFIX}`);

/** The claim, or null while another process (or another job of this one) holds it. */
export function claimCopy(dir: string, filename: string): CopyClaim | null {
  const sqlite = lockDatabase(claimPath(dir, filename));
  return sqlite ? heldLock(sqlite) : null;
}

/** Claim files whose backup is gone are removed, each while holding it, so none is pulled from under a holder. */
export async function removeOrphanClaims(dir: string, present: Set<string>): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(".") || !name.endsWith(SUFFIX)) continue;
    const filename = name.slice(1, -SUFFIX.length);
    if (present.has(filename)) continue;
    const claim = claimCopy(dir, filename);
    if (!claim) continue;
    try {
      await removeClaimFile(dir, filename);
    } finally {
      claim.release();
    }
  }
}

/** Only by the holder of the claim, once the backup is gone (nobody claims a gone backup's copy again). */
export async function removeClaimFile(dir: string, filename: string): Promise<void> {
  if (!existsSync(path.join(dir, filename))) await rm(claimPath(dir, filename), { force: true });
}
