import Database from "better-sqlite3";
import * as sqliteVec from "sqlite-vec";

// Plain SQLite access, without Drizzle or the schema: worker threads import only this, which keeps their
// start-up short and small (each backup, copy and validation runs in a fresh worker).

export type Sqlite = Database.Database;

export const VECTOR_TABLE = "chunk_embeddings";
export const EMBEDDING_DIMENSIONS = 384;

export interface OpenOptions {
  readonly?: boolean;
  /** WAL is for live databases; staged or backup files are inspected without converting them. */
  wal?: boolean;
  /** How long a statement waits for another connection's lock; the main thread passes 0 and retries asynchronously. */
  busyTimeoutMs?: number;
  /** Refuse instead of creating an empty file: a live database is only ever created on purpose. */
  mustExist?: boolean;
}

/** Opens a SQLite file with the pragmas every app.db connection needs and sqlite-vec loaded. */
export function openSqlite(file: string, options: OpenOptions = {}): Sqlite {
  const fileMustExist = options.mustExist ?? options.readonly ?? false;
  const sqlite = new Database(file, { readonly: options.readonly ?? false, fileMustExist });
  try {
    sqlite.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    if (options.wal ?? !options.readonly) sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("synchronous = NORMAL");
    sqlite.pragma("foreign_keys = ON");
    sqliteVec.load(sqlite);
    return sqlite;
  } catch (error) {
    sqlite.close();
    throw error;
  }
}

/** A cheap read that fails unless the file is readable, vector index included once it exists. */
export function checkReadable(sqlite: Sqlite): void {
  sqlite.prepare("SELECT count(*) FROM sqlite_master").get();
  const vector = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE name = ?").get(VECTOR_TABLE);
  if (vector) sqlite.prepare(`SELECT chunk_id FROM ${VECTOR_TABLE} LIMIT 1`).all();
}
