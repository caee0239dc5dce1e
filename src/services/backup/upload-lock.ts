import path from "node:path";
import Database from "better-sqlite3";
import { OperationInProgressError } from "../../errors.js";
import type { ServiceDeps } from "../deps.js";

/**
 * Uploads and imports in flight, across processes: each holds a SHARED lock on this empty SQLite file in
 * the database's directory for as long as its temp file exists; the start-up sweep removes upload temps only
 * while it holds the EXCLUSIVE lock, which it gets only when no live process (a CLI `backup import`) holds a
 * shared one. The kernel drops a dead process's lock (fcntl), so a crashed writer's temp is swept next start.
 */
export const UPLOAD_LOCK_FILE = ".upload.lock.sqlite";

export interface UploadLock {
  release(): void;
}

const isBusy = (error: unknown) => String((error as { code?: unknown })?.code ?? "").startsWith("SQLITE_BUSY");

function lockFile(deps: ServiceDeps, database: string): string {
  return path.join(deps.paths.dbDir(database), UPLOAD_LOCK_FILE);
}

/** Held by an upload or import while its temp file exists; waits (briefly) while a sweep is running. */
export async function holdUploadLock(deps: ServiceDeps, database: string, timeoutMs = 5_000): Promise<UploadLock> {
  const deadline = deps.clock.monotonic() + timeoutMs;
  for (;;) {
    const sqlite = new Database(lockFile(deps, database));
    try {
      sqlite.pragma("busy_timeout = 0");
      sqlite.exec("BEGIN");
      sqlite.prepare("SELECT count(*) FROM sqlite_master").get();
      return { release: () => sqlite.close() };
    } catch (error) {
      sqlite.close();
      if (!isBusy(error)) throw error;
      if (deps.clock.monotonic() > deadline)
        throw new OperationInProgressError("a clean-up of interrupted uploads is running");
      await deps.clock.sleep(50);
    }
  }
}

/** The sweep's lock: null while any live process has an upload or import in flight on this database. */
export function trySweepLock(deps: ServiceDeps, database: string): UploadLock | null {
  const sqlite = new Database(lockFile(deps, database));
  try {
    sqlite.pragma("busy_timeout = 0");
    sqlite.exec("BEGIN EXCLUSIVE");
    return { release: () => sqlite.close() };
  } catch (error) {
    sqlite.close();
    if (isBusy(error)) return null;
    throw error;
  }
}
