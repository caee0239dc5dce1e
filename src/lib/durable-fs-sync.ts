import { closeSync, fsyncSync, openSync, rmSync } from "node:fs";

/**
 * The synchronous durability helpers, for worker threads and start-up recovery (which run before the
 * event loop matters); the event loop's own code uses durable-fs.ts.
 */

function fsyncPath(target: string, flags: "r" | "r+"): void {
  const fd = openSync(target, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export const fsyncFile = (file: string) => fsyncPath(file, "r+");
/** A rename is durable only once the directory entry itself is flushed. */
export const fsyncDir = (dir: string) => fsyncPath(dir, "r");

export function removeWithJournal(file: string): void {
  for (const suffix of ["", "-journal", "-wal", "-shm"]) rmSync(file + suffix, { force: true });
}
