import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { ConflictError, NotFoundError } from "../errors.js";
import { DATABASE_NAME } from "../lib/names.js";
import type { Logger } from "../logger.js";
import { checkReadable, type Sqlite } from "./connection.js";
import { ConnectionHolder, type HolderOptions } from "./holder.js";
import { applyMigrations, type Migration } from "./migrations.js";
import type { DataPaths } from "./paths.js";
import { recoverDatabaseDir, removeBackupLeftovers } from "./recovery.js";

export interface RegistryOptions {
  paths: DataPaths;
  migrations: Migration[];
  logger: Logger;
  holder: Omit<HolderOptions, "onOpen">;
}

/** Knows which databases exist on disk and hands out one connection holder per database. */
export class DatabaseRegistry {
  readonly #holders = new Map<string, ConnectionHolder>();

  constructor(private readonly options: RegistryOptions) {}

  /** Recovers interrupted work, makes sure `default` exists, and opens every database. */
  init(): void {
    const { paths, logger } = this.options;
    mkdirSync(paths.databasesDir, { recursive: true });
    mkdirSync(paths.backupsDir, { recursive: true });
    // Recovery looks at every database directory: a crash mid-swap can leave one without app.db.
    for (const name of readdirSync(paths.databasesDir).filter((n) => DATABASE_NAME.test(n))) {
      recoverDatabaseDir(paths.dbDir(name), logger);
      removeBackupLeftovers(paths.backupDir(name), logger);
    }
    if (!this.exists("default")) this.create("default");
    for (const name of this.names()) this.holder(name).open();
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
    if (!this.exists(name)) throw new NotFoundError(`database "${name}" does not exist`, { database: name });
    const holder = new ConnectionHolder(name, this.options.paths.dbFile(name), {
      ...this.options.holder,
      onOpen: (sqlite) => this.#prepare(name, sqlite),
    });
    this.#holders.set(name, holder);
    return holder;
  }

  /** Creates an empty database with the current schema. */
  create(name: string): ConnectionHolder {
    if (this.exists(name)) throw new ConflictError(`database "${name}" already exists`, { database: name });
    mkdirSync(this.options.paths.dbDir(name), { recursive: true });
    mkdirSync(this.options.paths.backupDir(name), { recursive: true });
    const holder = new ConnectionHolder(name, this.options.paths.dbFile(name), {
      ...this.options.holder,
      onOpen: (sqlite) => this.#prepare(name, sqlite),
    });
    holder.open();
    this.#holders.set(name, holder);
    this.options.logger.info({ database: name }, "database created");
    return holder;
  }

  closeAll(): void {
    for (const holder of this.#holders.values()) holder.close();
    this.#holders.clear();
  }

  #prepare(name: string, sqlite: Sqlite): void {
    const applied = applyMigrations(sqlite, this.options.migrations);
    if (applied.length > 0) this.options.logger.info({ database: name, applied }, "migrations applied on open");
    checkReadable(sqlite);
  }

  #hasDatabaseFile(name: string): boolean {
    return existsSync(this.options.paths.dbFile(name));
  }
}
