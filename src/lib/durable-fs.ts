import { renameSync, rmSync } from "node:fs";
import { link, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { diskFullError } from "./disk-full.js";
import { fsyncDir as fsyncDirSync } from "./durable-fs-sync.js";
import { type Ids, systemIds } from "./ids.js";
import { newTemp, releaseTemp } from "./temp-names.js";

async function fsyncPath(target: string, flags: "r" | "r+"): Promise<void> {
  const handle = await open(target, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export const fsyncFile = (file: string) => fsyncPath(file, "r+");
/** A rename is durable only once the directory entry itself is flushed. */
export const fsyncDirAsync = (dir: string) => fsyncPath(dir, "r");

/**
 * The temp names of atomic writes before they carried a pid (`.<name>.<8 hex>.tmp`): only an older version
 * wrote them, so one found now is a leftover of it.
 */
export const ATOMIC_WRITE_TEMP = /^\.(.+)\.[0-9a-f]{8}\.tmp$/;

/**
 * Replaces `file` with `content` so readers see the old or the new bytes, never a torn write. The temp is
 * `.<name>.tmp-<pid>-<hex>` (temp-names.ts): no other process's sweep removes it while this one lives.
 */
export async function writeFileAtomic(file: string, content: string, ids: Ids = systemIds): Promise<void> {
  const temp = newTemp(path.dirname(file), path.basename(file), "tmp", ids);
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

const SQLITE_SUFFIXES = ["", "-journal", "-wal", "-shm"];

/** Removes a SQLite file and its sidecars without blocking the event loop (a staged copy can be GiBs). */
export async function removeDatabaseFile(file: string, ops: Pick<FileOps, "rm"> = nodeFileOps): Promise<void> {
  for (const suffix of SQLITE_SUFFIXES) await ops.rm(file + suffix);
}

/**
 * Every mutating file call that publishes, moves or removes a name of ours, as one port (`deps.fileOps`): a
 * restore, start-up recovery (its synchronous calls), a backup, an upload and a fetch go through it. Tests make
 * one fail, take hard links away, or crash the "process" after the N-th call (test/helpers/faults.ts) and check
 * every step recovers. Not in it: the bulk bytes written under a temp name (VACUUM INTO, copies, an upload's
 * body, a fetch's decryption, in workers or streams): only a later call here makes them visible, so a crash
 * while they are written is a crash before that call.
 */
export interface FileOps {
  rename(from: string, to: string): Promise<void>;
  /** Fails with EEXIST when `newName` exists: never replaces a file. */
  link(existing: string, newName: string): Promise<void>;
  /** Removes a file; one that does not exist is fine. */
  rm(file: string): Promise<void>;
  /** `writeFileAtomic`: a temp file, fsynced, renamed over `file`, the directory fsynced. */
  writeFileAtomic(file: string, content: string): Promise<void>;
  fsyncDir(dir: string): Promise<void>;
  /** Start-up recovery runs before anything is served and stays synchronous: the same calls, blocking. */
  renameSync(from: string, to: string): void;
  /** Removes a file; one that does not exist is fine. */
  rmSync(file: string): void;
  fsyncDirSync(dir: string): void;
}

/** The real calls; the random part of atomic writes' temp names from `ids` (deps.ids). */
export function nodeFileOpsWith(ids: Ids): FileOps {
  return {
    rename,
    link,
    rm: (file) => rm(file, { force: true }),
    writeFileAtomic: (file, content) => writeFileAtomic(file, content, ids),
    fsyncDir: fsyncDirAsync,
    renameSync,
    rmSync: (file) => rmSync(file, { force: true }),
    fsyncDirSync,
  };
}

export const nodeFileOps: FileOps = nodeFileOpsWith(systemIds);

/** A SQLite file and its sidecars, through the port's synchronous calls (start-up recovery). */
export function removeDatabaseFileSync(file: string, ops: Pick<FileOps, "rmSync"> = nodeFileOps): void {
  for (const suffix of SQLITE_SUFFIXES) ops.rmSync(file + suffix);
}
