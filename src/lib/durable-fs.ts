import { link, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { diskFullError } from "./disk-full.js";
import { newTemp, releaseTemp } from "./temp-names.js";

export async function fsyncDirAsync(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The temp names of atomic writes before they carried a pid (`.<name>.<8 hex>.tmp`): only an older version
 * wrote them, so one found now is a leftover of it.
 */
export const ATOMIC_WRITE_TEMP = /^\.(.+)\.[0-9a-f]{8}\.tmp$/;

/**
 * Replaces `file` with `content` so readers see the old or the new bytes, never a torn write. The temp is
 * `.<name>.tmp-<pid>-<hex>` (temp-names.ts): no other process's sweep removes it while this one lives.
 */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const temp = newTemp(path.dirname(file), path.basename(file));
  try {
    const handle = await open(temp, "w", 0o600);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
    await fsyncDirAsync(path.dirname(file));
  } catch (error) {
    await rm(temp, { force: true });
    throw diskFullError(error, `${path.basename(file)} could not be written`) ?? error;
  } finally {
    releaseTemp(temp);
  }
}

/** Removes a SQLite file and its sidecars without blocking the event loop (a staged copy can be GiBs). */
export async function removeDatabaseFile(file: string): Promise<void> {
  await Promise.all(["", "-journal", "-wal", "-shm"].map((suffix) => rm(file + suffix, { force: true })));
}

/**
 * Every mutating file call of a restore, as one port (`deps.fileOps`): tests make one fail, take hard links away,
 * or crash the "process" after the N-th call (test/helpers/faults.ts) to check every step recovers.
 */
export interface FileOps {
  rename(from: string, to: string): Promise<void>;
  link(existing: string, newName: string): Promise<void>;
  /** Removes a file; one that does not exist is fine. */
  rm(file: string): Promise<void>;
  /** `writeFileAtomic`: a temp file, fsynced, renamed over `file`, the directory fsynced. */
  writeFileAtomic(file: string, content: string): Promise<void>;
  fsyncDir(dir: string): Promise<void>;
}

export const nodeFileOps: FileOps = {
  rename,
  link,
  rm: (file) => rm(file, { force: true }),
  writeFileAtomic,
  fsyncDir: fsyncDirAsync,
};
