import { InsufficientStorageError, ServiceError } from "../errors.js";

// SQLITE_IOERR_SHMSIZE: a WAL database's shared-memory file could not grow, which is how a full disk stops even a
// read of a database that was closed cleanly (its -shm went with the close).
const DISK_FULL_CODES = new Set(["ENOSPC", "EDQUOT", "SQLITE_FULL", "SQLITE_IOERR_SHMSIZE"]);

/** True for the ways a full disk surfaces: errno from node:fs, SQLite's result codes, and both relayed by a worker. */
export function isDiskFull(error: unknown): boolean {
  for (let e = error as { code?: unknown; cause?: unknown; message?: unknown } | undefined; e; e = e.cause as never) {
    if (typeof e.code === "string" && DISK_FULL_CODES.has(e.code)) return true;
    if (typeof e.message === "string" && /ENOSPC|database or disk is full/.test(e.message)) return true;
    if (e.cause === e) break;
  }
  return false;
}

/** The 507 a disk-full failure becomes (INSUFFICIENT_STORAGE), or null when `error` is something else or already a ServiceError. */
export function diskFullError(error: unknown, what: string): InsufficientStorageError | null {
  if (error instanceof ServiceError || !isDiskFull(error)) return null;
  return new InsufficientStorageError(`${what}: not enough free space`, { reason: "disk_full" });
}
