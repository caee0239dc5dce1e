// Another process on app.db (the knowledge-base app, the CLI): for each line "<n>" on stdin it opens app.db
// afresh (never creating it), turns WAL on as the app does, commits probe row n and answers "ok n", or
// "busy n" / "err n CODE" when SQLite refuses, then closes it (as the CLI does).
import { createInterface } from "node:readline";
import Database from "better-sqlite3";

const file = process.argv[2];
for await (const line of createInterface({ input: process.stdin })) {
  const n = Number(line);
  let db;
  try {
    db = new Database(file, { fileMustExist: true });
    db.pragma("busy_timeout = 0");
    db.pragma("journal_mode = WAL");
    db.exec("CREATE TABLE IF NOT EXISTS probe (n INTEGER)");
    db.prepare("INSERT INTO probe (n) VALUES (?)").run(n);
    process.stdout.write(`ok ${n}\n`);
  } catch (error) {
    const code = String(error.code ?? "");
    process.stdout.write(code.startsWith("SQLITE_BUSY") ? `busy ${n}\n` : `err ${n} ${code}\n`);
  } finally {
    db?.close();
  }
}
