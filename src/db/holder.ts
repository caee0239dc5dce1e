import { OperationInProgressError } from "../errors.js";
import { type AppDb, openSqlite, type Sqlite, wrapDrizzle } from "./connection.js";

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

function waitWithTimeout(promise: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
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

  get isOpen(): boolean {
    return this.#db !== null;
  }

  get isGateClosed(): boolean {
    return this.#gate !== null;
  }

  open(): void {
    if (this.#db) return;
    const sqlite = openSqlite(this.file);
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

  async lease<T>(fn: (db: AppDb) => T | Promise<T>): Promise<T> {
    while (this.#gate) {
      const passed = await waitWithTimeout(this.#gate.promise, this.options.gateTimeoutMs);
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
    try {
      await this.#drain();
      return await fn();
    } finally {
      try {
        this.open();
      } finally {
        this.#gate = null;
        gate.open();
      }
    }
  }

  /** For code already inside `exclusive()` (restore hooks): the connection, with no gate to wait at. */
  insideExclusive<T>(fn: (db: AppDb) => T): T {
    if (!this.#gate) throw new Error(`insideExclusive called outside exclusive() for "${this.name}"`);
    this.open();
    return fn(this.#db as AppDb);
  }

  /**
   * Checkpoints and switches the file out of WAL mode, which SQLite only allows to the last connection:
   * if another process holds it open, this refuses and leaves the database untouched and open.
   */
  detachForSwap(): void {
    const sqlite = this.#db?.$client ?? openSqlite(this.file);
    this.#db = null;
    try {
      sqlite.pragma("wal_checkpoint(TRUNCATE)");
      const mode = sqlite.pragma("journal_mode = DELETE", { simple: true });
      if (mode !== "delete") throw new Error(`journal mode stayed ${String(mode)}`);
    } catch (cause) {
      sqlite.pragma("journal_mode = WAL");
      this.#db = wrapDrizzle(sqlite);
      throw new OperationInProgressError(
        `another process has database "${this.name}" open; stop it before restoring`,
        { database: this.name },
        { cause },
      );
    }
    sqlite.close();
  }

  async #drain(): Promise<void> {
    if (this.#active === 0) return;
    this.#drained = newGate();
    const drained = await waitWithTimeout(this.#drained.promise, this.options.drainTimeoutMs);
    this.#drained = null;
    if (!drained) throw new OperationInProgressError(`requests on database "${this.name}" did not finish in time`);
  }
}
