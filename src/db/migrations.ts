import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readMigrationFiles } from "drizzle-orm/migrator";
import type { Sqlite } from "./connection.js";

export const MIGRATIONS_TABLE = "__drizzle_migrations";
export const defaultMigrationsFolder = fileURLToPath(new URL("../../drizzle", import.meta.url));

/** A drizzle-kit migration; its revision is the journal tag. */
export interface Migration {
  tag: string;
  when: number;
  hash: string;
  statements: string[];
}

export function loadMigrations(folder = defaultMigrationsFolder): Migration[] {
  const journal = JSON.parse(readFileSync(path.join(folder, "meta", "_journal.json"), "utf8")) as {
    entries: { tag: string; when: number }[];
  };
  const files = readMigrationFiles({ migrationsFolder: folder });
  return files.map((file, i) => {
    const entry = journal.entries[i];
    if (!entry) throw new Error(`migration journal and files disagree at index ${i}`);
    return {
      tag: entry.tag,
      when: file.folderMillis,
      hash: file.hash,
      statements: file.sql.map((s) => s.trim()).filter((s) => s.length > 0),
    };
  });
}

export function hasMigrationsTable(sqlite: Sqlite): boolean {
  const row = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(MIGRATIONS_TABLE);
  return row !== undefined;
}

/** Drizzle records each applied migration by its journal timestamp; the newest one is the schema's revision. */
export function lastAppliedMillis(sqlite: Sqlite): number | null {
  if (!hasMigrationsTable(sqlite)) return null;
  const row = sqlite.prepare(`SELECT max(created_at) AS last FROM ${MIGRATIONS_TABLE}`).get() as {
    last: number | null;
  };
  return row.last === null ? null : Number(row.last);
}

export interface SchemaState {
  applied: Migration[];
  pending: Migration[];
  /** The file was written by a newer build: it has migrations this build does not know. */
  newer: boolean;
}

export function schemaState(sqlite: Sqlite, migrations: Migration[]): SchemaState {
  const last = lastAppliedMillis(sqlite) ?? 0;
  const newest = migrations.at(-1)?.when ?? 0;
  return {
    applied: migrations.filter((m) => m.when <= last),
    pending: migrations.filter((m) => m.when > last),
    newer: last > newest,
  };
}

/** Applies pending migrations (or those up to `upTo`) in one transaction; returns the tags applied. */
export function applyMigrations(sqlite: Sqlite, migrations: Migration[], upTo?: string): string[] {
  const { pending } = schemaState(sqlite, migrations);
  const stop = upTo === undefined ? pending.length : pending.findIndex((m) => m.tag === upTo) + 1;
  const batch = pending.slice(0, stop);
  if (batch.length === 0) return [];
  // Everything, the migrations table included, is inside the transaction: a failure leaves the file as it was.
  sqlite.transaction(() => {
    sqlite.exec(
      `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT, hash text NOT NULL, created_at numeric)`,
    );
    const record = sqlite.prepare(`INSERT INTO ${MIGRATIONS_TABLE} (hash, created_at) VALUES (?, ?)`);
    for (const migration of batch) {
      try {
        for (const statement of migration.statements) sqlite.exec(statement);
      } catch (cause) {
        throw new MigrationFailedError(migration.tag, cause);
      }
      record.run(migration.hash, migration.when);
    }
  })();
  return batch.map((m) => m.tag);
}

/** Names the migration whose statement failed; the transaction around the batch has undone all of it. */
export class MigrationFailedError extends Error {
  readonly details: { revision: string };

  constructor(revision: string, cause: unknown) {
    super(`migration ${revision} failed: ${(cause as Error).message}`, { cause });
    this.details = { revision };
  }
}

/** The tag of the newest migration a file has, given when it was recorded. */
export function revisionOf(migrations: Migration[], lastAppliedMillis: number | null): string | null {
  if (lastAppliedMillis === null) return null;
  return migrations.filter((m) => m.when <= lastAppliedMillis).at(-1)?.tag ?? null;
}
