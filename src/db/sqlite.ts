import { closeSync, openSync, readSync, statSync } from "node:fs";
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

/**
 * Opens a backup-shaped file to check it without leaving `-wal`/`-shm` beside it. A read-only connection to
 * a WAL-mode file creates both and, being read-only, never removes them; a read-write connection that
 * writes nothing (query_only) removes them when it closes last, and leaves the file's bytes and mtime as
 * they were. It is used only when nothing could be replayed into the file: no `-journal`, no non-empty
 * `-wal` (those are someone else's data, read read-only as before).
 */
export function openForCheck(file: string): Sqlite {
  if (!isWalHeader(file) || hasSideData(file)) return openSqlite(file, { readonly: true });
  let sqlite: Sqlite;
  try {
    sqlite = openSqlite(file, { mustExist: true, wal: false });
  } catch {
    return openSqlite(file, { readonly: true });
  }
  sqlite.pragma("query_only = 1");
  return sqlite;
}

/** Bytes 18-19 of the header are 2 for a WAL-mode file. */
function isWalHeader(file: string): boolean {
  const fd = openSync(file, "r");
  try {
    const header = Buffer.alloc(20);
    return readSync(fd, header, 0, 20, 0) === 20 && header[18] === 2 && header[19] === 2;
  } finally {
    closeSync(fd);
  }
}

function hasSideData(file: string): boolean {
  const size = (suffix: string) => statSync(`${file}${suffix}`, { throwIfNoEntry: false })?.size;
  return size("-journal") !== undefined || (size("-wal") ?? 0) > 0;
}
