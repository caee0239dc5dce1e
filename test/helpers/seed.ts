import { mkdirSync } from "node:fs";
import path from "node:path";
import { openSqlite, type Sqlite } from "../../src/db/connection.js";
import { applyMigrations, loadMigrations, type Migration } from "../../src/db/migrations.js";

export const migrations = loadMigrations();
export const FIRST = migrations[0]?.tag as string;
export const LATEST = migrations.at(-1)?.tag as string;
/** The revision before the latest: a database one upgrade behind. */
export const PREVIOUS = migrations.at(-2)?.tag as string;

/**
 * Writes an app.db built by applying only the migrations up to `upTo` (all by default), with nodes titled
 * `titles`: a database as an older build left it. `wal: false` makes a file shaped like a backup.
 */
export function seedDatabaseFile(file: string, options: { upTo?: string; titles?: string[]; wal?: boolean } = {}) {
  mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = openSqlite(file, { wal: options.wal ?? true });
  try {
    applyMigrations(sqlite, migrations, options.upTo);
    for (const title of options.titles ?? []) sqlite.prepare("INSERT INTO nodes (title) VALUES (?)").run(title);
  } finally {
    sqlite.close();
  }
}

export function seedDatabase(dataDir: string, name: string, options: { upTo?: string; titles?: string[] } = {}) {
  mkdirSync(path.join(dataDir, "backups", name), { recursive: true });
  seedDatabaseFile(path.join(dataDir, "databases", name, "app.db"), options);
}

/** The real migrations plus one that fails on data with duplicate node titles (a realistic unique index). */
export function migrationsWithFailingOne(): Migration[] {
  const last = migrations.at(-1) as Migration;
  return [
    ...migrations,
    {
      tag: "0002_unique_node_titles",
      when: last.when + 1000,
      hash: "test-0002",
      statements: [
        "CREATE TABLE node_aliases (id integer PRIMARY KEY, alias text NOT NULL)",
        "CREATE UNIQUE INDEX nodes_title_unique ON nodes (title)",
      ],
    },
  ];
}

/** Opens a database file read-only for a test to look inside; the caller closes it. */
export function inspect<T>(file: string, fn: (sqlite: Sqlite) => T): T {
  const sqlite = openSqlite(file, { readonly: true });
  try {
    return fn(sqlite);
  } finally {
    sqlite.close();
  }
}

export function titles(file: string): string[] {
  return inspect(file, (s) =>
    (s.prepare("SELECT title FROM nodes ORDER BY id").all() as { title: string }[]).map((r) => r.title),
  );
}

export function hasTable(file: string, table: string): boolean {
  return inspect(file, (s) => s.prepare("SELECT 1 FROM sqlite_master WHERE name = ?").get(table) !== undefined);
}

export function appliedCount(file: string): number {
  return inspect(file, (s) => (s.prepare("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number }).n);
}
