import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { ConflictError, NotFoundError } from "../errors.js";
import { DATABASE_NAME } from "../lib/names.js";
import type { Logger } from "../logger.js";
import { checkReadable, openSqlite, type Sqlite } from "./connection.js";
import { ConnectionHolder, type HolderOptions, missingDatabase } from "./holder.js";
import { applyMigrations, type Migration } from "./migrations.js";
import { type DataPaths, scheduleSettingsName, scheduleStateName } from "./paths.js";
import {
  type RecoveryPorts,
  recoverDatabaseDir,
  removeAtomicWriteLeftovers,
  removeBackupLeftovers,
} from "./recovery.js";

export interface RegistryOptions {
  paths: DataPaths;
  migrations: Migration[];
  logger: Logger;
  holder: Omit<HolderOptions, "onOpen" | "guard">;
  /** Refuses leases of a database that cannot be served (blocked, pending migrations). */
  guard?: (database: string, connect: () => Sqlite) => void;
  /**
   * Takes the database's cross-process operation lock for start-up recovery; null when another process
   * is working on it, whose temp files are then not leftovers and are left alone.
   */
  recoveryLock?: (database: string) => { release(): void } | null;
  /** Start-up recovery's file calls and names (deps.fileOps, deps.ids): a test crashes it at any of them. */
  recovery?: RecoveryPorts;
}

/** Knows which databases exist on disk and hands out one connection holder per database. */
export class DatabaseRegistry {
  readonly #holders = new Map<string, ConnectionHolder>();

  constructor(private readonly options: RegistryOptions) {}

  /**
   * Recovers interrupted work and makes sure `default` exists. Databases are opened later, once their
   * migrations are settled (see services/migrations), or lazily on the first lease.
   */
  init(): void {
    const { paths, logger } = this.options;
    const io = this.options.recovery ?? {};
    mkdirSync(paths.databasesDir, { recursive: true });
    mkdirSync(paths.backupsDir, { recursive: true });
    // Recovery looks at every database directory: a crash mid-swap can leave one without app.db.
    for (const name of readdirSync(paths.databasesDir).filter((n) => DATABASE_NAME.test(n))) {
      const lock = this.options.recoveryLock ? this.options.recoveryLock(name) : { release() {} };
      if (!lock) {
        logger.info({ database: name }, "recovery skipped: another process is working on this database");
        continue;
      }
      try {
        recoverDatabaseDir(paths.dbDir(name), logger, io);
        removeBackupLeftovers(paths.backupDir(name), logger, io);
        // The schedules directory is shared: only this database's settings and state files.
        const own = new Set([scheduleSettingsName(name), scheduleStateName(name)]);
        removeAtomicWriteLeftovers(paths.schedulesDir, logger, io, (target) => own.has(target));
      } finally {
        lock.release();
      }
    }
    this.#createDefaultOnFirstStart();
  }

  /**
   * `default` is created only when its directory does not exist yet (first start of an empty data dir). A
   * directory without app.db is a database whose file went missing: it is refused, never recreated empty.
   */
  #createDefaultOnFirstStart(): void {
    const { paths, logger } = this.options;
    if (!existsSync(paths.dbDir("default"))) {
      this.create("default");
      return;
    }
    if (this.exists("default")) return;
    const left = readdirSync(paths.dbDir("default")).filter((n) => n.startsWith("app.db") || n.includes("restore"));
    logger.error(
      { database: "default", directory: paths.dbDir("default"), files: left },
      "database file missing: refusing to serve it and not creating an empty one; its data is in the files listed",
    );
  }

  names(): string[] {
    const dir = this.options.paths.databasesDir;
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((name) => DATABASE_NAME.test(name) && this.#hasDatabaseFile(name))
      .sort();
  }

  exists(name: string): boolean {
    return DATABASE_NAME.test(name) && this.#hasDatabaseFile(name);
  }

  size(name: string): number {
    const file = this.options.paths.dbFile(name);
    const wal = statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    return statSync(file).size + wal;
  }

  holder(name: string): ConnectionHolder {
    const existing = this.#holders.get(name);
    if (existing) return existing;
    if (this.exists(name)) return this.#newHolder(name);
    if (DATABASE_NAME.test(name) && existsSync(this.options.paths.dbDir(name))) {
      throw missingDatabase(name, this.options.paths.dbFile(name));
    }
    throw new NotFoundError(`database "${name}" does not exist`, { database: name });
  }

  /** Creates an empty database with the current schema; a fresh file needs no pre-upgrade backup. */
  create(name: string): ConnectionHolder {
    if (this.exists(name)) throw new ConflictError(`database "${name}" already exists`, { database: name });
    mkdirSync(this.options.paths.dbDir(name), { recursive: true });
    mkdirSync(this.options.paths.backupDir(name), { recursive: true });
    const sqlite = openSqlite(this.options.paths.dbFile(name));
    try {
      applyMigrations(sqlite, this.options.migrations);
    } finally {
      sqlite.close();
    }
    const holder = this.#newHolder(name);
    holder.open();
    this.options.logger.info({ database: name }, "database created");
    return holder;
  }

  closeAll(): void {
    for (const holder of this.#holders.values()) holder.close();
    this.#holders.clear();
  }

  #newHolder(name: string): ConnectionHolder {
    const guard = this.options.guard;
    const holder = new ConnectionHolder(name, this.options.paths.dbFile(name), {
      ...this.options.holder,
      onOpen: checkReadable,
      guard: guard && ((connect) => guard(name, connect)),
    });
    this.#holders.set(name, holder);
    return holder;
  }

  #hasDatabaseFile(name: string): boolean {
    return existsSync(this.options.paths.dbFile(name));
  }
}
