import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { DatabaseBlockedError, OperationInProgressError } from "../errors.js";
import { type Clock, systemClock } from "../lib/clock.js";
import { type AppDb, openSqlite, type Sqlite, wrapDrizzle } from "./connection.js";

/** Main-thread connections never wait on a SQLite lock; a busy lease is retried this long, asynchronously. */
const BUSY_RETRY_MS = 2_000;
const BUSY_POLL_MS = 15;
/** A WAL up to this size is checkpointed by the switch out of WAL mode on the main thread (busy_timeout 0). */
const INLINE_CHECKPOINT_MAX_BYTES = 1024 * 1024;

export function isSqliteBusy(error: unknown): boolean {
  return String((error as { code?: unknown })?.code ?? "").startsWith("SQLITE_BUSY");
}

/** The connection a restore keeps on the old file, locked exclusively, until its renames are done. */
export interface DetachedDatabase {
  release(): void;
}

export interface HolderOptions {
  /** Bounded wait for a new lease while the gate is closed. */
  gateTimeoutMs: number;
  /** Bounded wait for leases already inside when the gate closes. */
  drainTimeoutMs: number;
  /** Runs on every (re)open before the gate opens: read checks. Throwing aborts the open. */
  onOpen?: (sqlite: Sqlite) => void;
  /**
   * Runs before every lease and may refuse it (a database blocked by a failed migration); `connect`
   * opens the connection only if the guard needs to look inside.
   */
  guard?: (connect: () => Sqlite) => void;
  /** Checkpoints a big WAL off the event loop before a swap (a worker task, injected: db/ imports nothing above it). */
  checkpoint?: (file: string) => Promise<{ walTruncated: boolean }>;
  /** deps.clock: the gate's and drain's bounded waits, the busy retry's deadline and polls. */
  clock?: Clock;
}

interface Gate {
  promise: Promise<void>;
  open: () => void;
}

function newGate(): Gate {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

function waitWithTimeout(clock: Clock, promise: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => resolve(false), ms);
    promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * The only way code reaches a database's Drizzle instance. Requests lease the connection; a restore
 * closes the gate, waits for leases inside to finish, swaps the file, reopens and opens the gate, so
 * every caller sees either the old database or the new one, never a closed handle.
 */
export class ConnectionHolder {
  #db: AppDb | null = null;
  #gate: Gate | null = null;
  #active = 0;
  #drained: Gate | null = null;

  constructor(
    readonly name: string,
    readonly file: string,
    private readonly options: HolderOptions,
  ) {}

  get #clock(): Clock {
    return this.options.clock ?? systemClock;
  }

  get isOpen(): boolean {
    return this.#db !== null;
  }

  get isGateClosed(): boolean {
    return this.#gate !== null;
  }

  open(): void {
    if (this.#db) return;
    if (!existsSync(this.file)) throw missingDatabase(this.name, this.file);
    const sqlite = openSqlite(this.file, { busyTimeoutMs: 0, mustExist: true });
    try {
      this.options.onOpen?.(sqlite);
    } catch (error) {
      sqlite.close();
      throw error;
    }
    this.#db = wrapDrizzle(sqlite);
  }

  #connect(): AppDb {
    if (!this.#db) this.open();
    return this.#db as AppDb;
  }

  close(): void {
    this.#db?.$client.close();
    this.#db = null;
  }

  /** Runs `fn` on the connection; a SQLite lock held elsewhere (a worker's checkpoint) is waited out off the event loop. */
  async lease<T>(fn: (db: AppDb) => T | Promise<T>): Promise<T> {
    const deadline = this.#clock.monotonic() + BUSY_RETRY_MS; // monotonic, whatever the wall clock does
    for (;;) {
      try {
        return await this.#leaseOnce(fn);
      } catch (error) {
        if (!isSqliteBusy(error)) throw error;
        if (this.#clock.monotonic() >= deadline) throw this.#busy(error);
      }
      await this.#clock.sleep(BUSY_POLL_MS);
    }
  }

  async #leaseOnce<T>(fn: (db: AppDb) => T | Promise<T>): Promise<T> {
    while (this.#gate) {
      const passed = await waitWithTimeout(this.#clock, this.#gate.promise, this.options.gateTimeoutMs);
      if (!passed) throw new OperationInProgressError(`database "${this.name}" is being restored; try again shortly`);
    }
    this.options.guard?.(() => this.#connect().$client);
    const db = this.#connect();
    this.#active++;
    try {
      return await fn(db);
    } finally {
      this.#active--;
      if (this.#active === 0) this.#drained?.open();
    }
  }

  /**
   * Runs `fn` with the gate closed and no lease inside. `fn` may close and reopen the connection; if it
   * leaves it closed, whatever app.db then is gets reopened before the gate opens.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#gate) throw new OperationInProgressError(`database "${this.name}" is already being swapped`);
    const gate = newGate();
    this.#gate = gate;
    const openGate = () => {
      this.#gate = null;
      gate.open();
    };
    let result: T;
    try {
      await this.#drain();
      result = await fn();
    } catch (error) {
      // The failed swap's own error says more; the next lease reports a missing or unreadable file.
      this.#tryOpen();
      openGate();
      throw error;
    }
    try {
      this.open();
    } finally {
      openGate();
    }
    return result;
  }

  #tryOpen(): void {
    try {
      this.open();
    } catch {
      // See exclusive().
    }
  }

  /** For code already inside `exclusive()` (restore hooks): the connection, with no gate to wait at. */
  insideExclusive<T>(fn: (db: AppDb) => T): T {
    if (!this.#gate) throw new Error(`insideExclusive called outside exclusive() for "${this.name}"`);
    this.open();
    try {
      return fn(this.#db as AppDb);
    } catch (error) {
      throw isSqliteBusy(error) ? this.#busy(error) : error;
    }
  }

  /**
   * Checkpoints (in a worker) and switches the file out of WAL mode, which SQLite only allows to the last
   * connection, then keeps it locked exclusively so no other process can open it and turn WAL back on until
   * `release()`, after the renames. If another process holds it open this refuses, leaving it open and untouched.
   */
  async detachForSwap(): Promise<DetachedDatabase> {
    // The checkpoint before the gate left little; a bigger WAL is checkpointed in a worker, a small one by
    // the mode switch below (a few pages of I/O, never a lock wait): a worker's start-up would hold the gate longer.
    const wal = statSync(`${this.file}-wal`, { throwIfNoEntry: false });
    if ((wal?.size ?? 0) > INLINE_CHECKPOINT_MAX_BYTES && this.options.checkpoint) {
      const { walTruncated } = await this.options.checkpoint(this.file);
      if (!walTruncated) throw this.#heldElsewhere(new Error("the WAL checkpoint was blocked by a reader"));
    }
    const sqlite = this.#db?.$client ?? openSqlite(this.file, { busyTimeoutMs: 0, mustExist: true });
    this.#db = null;
    try {
      sqlite.pragma("locking_mode = EXCLUSIVE");
      const mode = sqlite.pragma("journal_mode = DELETE", { simple: true });
      if (mode !== "delete") throw new Error(`journal mode stayed ${String(mode)}`);
      sqlite.exec("BEGIN EXCLUSIVE");
    } catch (cause) {
      this.#reattach(sqlite);
      throw this.#heldElsewhere(cause);
    }
    return { release: () => sqlite.close() };
  }

  #reattach(sqlite: Sqlite): void {
    try {
      sqlite.pragma("locking_mode = NORMAL");
      sqlite.pragma("journal_mode = WAL");
      this.#db = wrapDrizzle(sqlite);
    } catch {
      sqlite.close();
    }
  }

  #heldElsewhere(cause: unknown): OperationInProgressError {
    return new OperationInProgressError(
      `another process has database "${this.name}" open; stop it before restoring`,
      { database: this.name },
      { cause },
    );
  }

  #busy(cause: unknown): OperationInProgressError {
    return new OperationInProgressError(
      `database "${this.name}" is busy with another process's write; try again shortly`,
      { database: this.name },
      { cause },
    );
  }

  async #drain(): Promise<void> {
    if (this.#active === 0) return;
    this.#drained = newGate();
    const drained = await waitWithTimeout(this.#clock, this.#drained.promise, this.options.drainTimeoutMs);
    this.#drained = null;
    if (!drained) throw new OperationInProgressError(`requests on database "${this.name}" did not finish in time`);
  }
}

/** A live database whose file is gone is refused, never recreated empty: fail closed, an empty file would look like data lost. */
export function missingDatabase(name: string, file: string): DatabaseBlockedError {
  const dir = path.dirname(file);
  return new DatabaseBlockedError(
    `database "${name}" has no ${path.basename(file)}: nothing was created in its place. ` +
      `With the server stopped, move its data back (${dir}/app.db.pre_restore, or a backup from the backups directory) ` +
      `to ${file} and start again; see docs/reliability.md`,
    { database: name, reason: "database_file_missing", directory: dir },
  );
}
