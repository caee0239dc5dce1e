import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { OperationInProgressError } from "../errors.js";

export type OperationKind = "backup" | "restore" | "migrate" | "delete" | "recover";

const WAIT_POLL_MS = 100;

export interface OperationLock {
  release(): void;
}

interface LockRecord {
  pid: number;
  operation: OperationKind;
  startedAt: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readRecord(file: string): LockRecord | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as LockRecord;
  } catch {
    return null;
  }
}

/**
 * One backup, restore or migration per database at a time, across this process and others (the CLI):
 * a lock file created exclusively, held by a live pid; a dead holder's lock is taken over.
 */
export class OperationLocks {
  readonly #held = new Map<string, OperationKind>();

  constructor(private readonly lockDir: (database: string) => string) {}

  acquire(database: string, operation: OperationKind): OperationLock {
    const running = this.#held.get(database);
    if (running) throw this.#busy(database, running);
    const file = path.join(this.lockDir(database), ".operation.lock");
    const record: LockRecord = { pid: process.pid, operation, startedAt: new Date().toISOString() };
    this.#createExclusive(file, record, database);
    this.#held.set(database, operation);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#held.delete(database);
        rmSync(file, { force: true });
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
    const deadline = Date.now() + timeoutMs;
    for (let waited = false; ; waited = true) {
      try {
        return this.acquire(database, operation);
      } catch (error) {
        if (!(error instanceof OperationInProgressError) || Date.now() >= deadline) throw error;
        if (!waited) onWait?.(error);
      }
      await sleep(WAIT_POLL_MS);
    }
  }

  /** The operation another process is running on `database`, if any. */
  runningElsewhere(database: string): OperationKind | null {
    const record = readRecord(path.join(this.lockDir(database), ".operation.lock"));
    if (!record || record.pid === process.pid || !isAlive(record.pid)) return null;
    return record.operation;
  }

  #createExclusive(file: string, record: LockRecord, database: string): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, "wx", 0o600);
        writeSync(fd, JSON.stringify(record));
        closeSync(fd);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const other = readRecord(file);
        if (other && isAlive(other.pid) && other.pid !== process.pid) throw this.#busy(database, other.operation);
        rmSync(file, { force: true });
      }
    }
    throw this.#busy(database, "restore");
  }

  #busy(database: string, operation: OperationKind): OperationInProgressError {
    return new OperationInProgressError(`a ${operation} of database "${database}" is already running`, {
      database,
      operation,
    });
  }
}
