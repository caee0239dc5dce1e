import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import Database from "better-sqlite3";

/**
 * Ways a copy of a good backup is spoiled into one that restore, upload and import must refuse (422), each
 * applied in place to the copy.
 */
export const badBackups: [string, (file: string) => void][] = [
  ["a text file", (file) => writeFileSync(file, "hello, not a database\n".repeat(100))],
  ["a truncated database", (file) => truncateSync(file, 6000)],
  [
    "a database with corrupted pages",
    (file) => {
      const bytes = readFileSync(file);
      for (let i = 4096 + 100; i < bytes.length; i += 97) bytes[i] = 0xff;
      writeFileSync(file, bytes);
    },
  ],
  [
    "a SQLite file that is not an app database",
    (file) => {
      writeFileSync(file, "");
      const other = new Database(file);
      other.exec("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)");
      other.close();
    },
  ],
  [
    "a backup from a newer build",
    (file) => {
      const db = new Database(file);
      db.prepare("INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('future', ?)").run(Date.now() * 10);
      db.close();
    },
  ],
];
