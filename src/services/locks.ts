import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { z } from "zod";
import { LOCK_FILE, LOCK_INFO_FILE } from "../db/paths.js";
import { OperationInProgressError } from "../errors.js";
import { type Clock, systemClock } from "../lib/clock.js";
import { diskFullError, isDiskFull } from "../lib/disk-full.js";
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
 * BEGIN EXCLUSIVE on an empty file writes its first page to a journal, which a full disk refuses: the lock file gets
 * that page once, while there is room, and from then on taking the lock writes no byte, so a full disk cannot keep
 * the server from starting (its recovery takes this lock). Busy or full here is left to BEGIN EXCLUSIVE to say.
 */
function ensureFirstPage(sqlite: Database.Database): void {
  if (sqlite.pragma("user_version", { simple: true }) !== 0) return;
  try {
    sqlite.pragma("user_version = 1");
  } catch (error) {
    if (!isBusy(error) && !isDiskFull(error)) throw error;
  }
}

/**
 * Takes the kernel lock: BEGIN EXCLUSIVE on the lock database with no busy wait. SQLite's unix VFS holds it
 * as an fcntl lock on the open descriptor, so the kernel drops it the moment the process dies, and it
 * tracks locks per inode, so a second connection in this process is refused too. Null when taken.
 */
export function lockDatabase(file: string): Database.Database | null {
  let sqlite: Database.Database | null = null;
  try {
    sqlite = new Database(file);
    sqlite.pragma("busy_timeout = 0");
    ensureFirstPage(sqlite);
    sqlite.exec("BEGIN EXCLUSIVE");
    return sqlite;
  } catch (error) {
    sqlite?.close();
    if (isBusy(error)) return null;
    throw diskFullError(error, "the operation lock could not be created") ?? error;
  }
}

/** A held kernel lock as a handle whose release may be called more than once. */
export function heldLock(sqlite: Database.Database): { release(): void } {
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      sqlite.close();
    },
  };
}

/**
 * One backup, restore or migration per database at a time, across this process and others (the CLI).
 * No pid is read or guessed: the lock lives exactly as long as the descriptor of the process holding it.
 */
export class OperationLocks {
  readonly #held = new Map<string, OperationKind>();
  /**
   * The connections holding the kernel locks, kept reachable until released: one the garbage collector took
   * would close, and the lock would end with no release (I4), as a dropped handle did in a test under load.
   */
  readonly #connections = new Map<string, Database.Database>();

  constructor(
    private readonly lockDir: (database: string) => string,
    /** deps.clock: the bounded wait's deadline and polls. */
    private readonly clock: Clock = systemClock,
  ) {}

  acquire(database: string, operation: OperationKind): OperationLock {
    const running = this.#held.get(database);
    if (running) throw this.#busy(database, running);
    const dir = this.lockDir(database);
    const sqlite = lockDatabase(path.join(dir, LOCK_FILE));
    if (!sqlite) throw this.#busy(database, this.#readInfo(dir) ?? "restore");
    this.#held.set(database, operation);
    this.#connections.set(database, sqlite);
    this.#writeInfo(dir, operation);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#held.delete(database);
        this.#connections.delete(database);
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
    const deadline = this.clock.monotonic() + timeoutMs; // monotonic: a wall clock set back must not stretch the wait
    for (let waited = false; ; waited = true) {
      try {
        return this.acquire(database, operation);
      } catch (error) {
        if (!(error instanceof OperationInProgressError) || this.clock.monotonic() >= deadline) throw error;
        if (!waited) onWait?.(error);
      }
      await this.clock.sleep(WAIT_POLL_MS);
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
