import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { z } from "zod";
import { LOCK_FILE, LOCK_INFO_FILE } from "../db/paths.js";
import { OperationInProgressError } from "../errors.js";
import { diskFullError } from "../lib/disk-full.js";
import { versionedJson } from "../lib/format.js";

export { LOCK_FILE, LOCK_INFO_FILE } from "../db/paths.js";

const OPERATIONS = ["backup", "restore", "migrate", "delete", "recover", "keys", "auth"] as const;
export type OperationKind = (typeof OPERATIONS)[number];

/** `.operation.lock.json` (docs/format.md): written after the lock is taken, read for messages only. */
const lockInfoFormat = versionedJson(z.object({ pid: z.number().int(), operation: z.enum(OPERATIONS) }));

const WAIT_POLL_MS = 100;

export interface OperationLock {
  release(): void;
}

function isBusy(error: unknown): boolean {
  return String((error as { code?: unknown })?.code ?? "").startsWith("SQLITE_BUSY");
}

/**
 * Takes the kernel lock: BEGIN EXCLUSIVE on the lock database with no busy wait. SQLite's unix VFS holds it
 * as an fcntl lock on the open descriptor, so the kernel drops it the moment the process dies, and it
 * tracks locks per inode, so a second connection in this process is refused too. Null when taken.
 * The transaction never commits, so its journal lives in memory: taking the lock writes no byte, and a full
 * disk cannot keep the server from starting (recovery takes this lock) or an operation from being refused
 * with the right reason.
 */
export function lockDatabase(file: string): Database.Database | null {
  let sqlite: Database.Database | null = null;
  try {
    sqlite = new Database(file);
    sqlite.pragma("busy_timeout = 0");
    sqlite.pragma("journal_mode = MEMORY");
    sqlite.exec("BEGIN EXCLUSIVE");
    return sqlite;
  } catch (error) {
    sqlite?.close();
    if (isBusy(error)) return null;
    throw diskFullError(error, "the operation lock could not be created") ?? error;
  }
}

/**
 * One backup, restore or migration per database at a time, across this process and others (the CLI).
 * No pid is read or guessed: the lock lives exactly as long as the descriptor of the process holding it.
 */
export class OperationLocks {
  readonly #held = new Map<string, OperationKind>();

  constructor(private readonly lockDir: (database: string) => string) {}

  acquire(database: string, operation: OperationKind): OperationLock {
    const running = this.#held.get(database);
    if (running) throw this.#busy(database, running);
    const dir = this.lockDir(database);
    const sqlite = lockDatabase(path.join(dir, LOCK_FILE));
    if (!sqlite) throw this.#busy(database, this.#readInfo(dir) ?? "restore");
    this.#held.set(database, operation);
    this.#writeInfo(dir, operation);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#held.delete(database);
        rmSync(path.join(dir, LOCK_INFO_FILE), { force: true });
        sqlite.close();
      },
    };
  }

  /** Like acquire, but null instead of an error when the database is busy. */
  tryAcquire(database: string, operation: OperationKind): OperationLock | null {
    try {
      return this.acquire(database, operation);
    } catch (error) {
      if (error instanceof OperationInProgressError) return null;
      throw error;
    }
  }

  /** Waits (bounded) for the database's running operation to end, then takes the lock; 409 after `timeoutMs`. */
  async acquireWhenFree(
    database: string,
    operation: OperationKind,
    timeoutMs: number,
    onWait?: (running: OperationInProgressError) => void,
  ): Promise<OperationLock> {
    const deadline = performance.now() + timeoutMs; // monotonic: a wall clock set back must not stretch the wait
    for (let waited = false; ; waited = true) {
      try {
        return this.acquire(database, operation);
      } catch (error) {
        if (!(error instanceof OperationInProgressError) || performance.now() >= deadline) throw error;
        if (!waited) onWait?.(error);
      }
      await sleep(WAIT_POLL_MS);
    }
  }

  /** The operation another process is running on `database`, if any: probes the kernel lock without keeping it. */
  runningElsewhere(database: string): OperationKind | null {
    if (this.#held.has(database)) return null;
    const dir = this.lockDir(database);
    let probe: Database.Database | null;
    try {
      probe = lockDatabase(path.join(dir, LOCK_FILE));
    } catch {
      return null;
    }
    if (probe) {
      probe.close();
      return null;
    }
    return this.#readInfo(dir) ?? "restore";
  }

  /** Any unreadable label (a newer build's included) reads as unknown: the kernel lock decides, not this file. */
  #readInfo(dir: string): OperationKind | null {
    const file = path.join(dir, LOCK_INFO_FILE);
    try {
      return lockInfoFormat.parse(readFileSync(file, "utf8"), file).operation;
    } catch {
      return null;
    }
  }

  /** Best effort: a full disk must not fail an operation over a label. */
  #writeInfo(dir: string, operation: OperationKind): void {
    try {
      writeFileSync(path.join(dir, LOCK_INFO_FILE), lockInfoFormat.serialize({ pid: process.pid, operation }), {
        mode: 0o600,
      });
    } catch {
      rmSync(path.join(dir, LOCK_INFO_FILE), { force: true });
    }
  }

  #busy(database: string, operation: OperationKind): OperationInProgressError {
    return new OperationInProgressError(`a ${operation} of database "${database}" is already running`, {
      database,
      operation,
    });
  }
}
