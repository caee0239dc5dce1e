// Another process holding app.db: "read" keeps a read transaction open, "write" holds the write lock
// (BEGIN IMMEDIATE). It prints "held", and lets go when it reads "release" on stdin.
import { createInterface } from "node:readline";
import Database from "better-sqlite3";

const [file, mode] = process.argv.slice(2);
const db = new Database(file, { fileMustExist: true });
db.pragma("journal_mode = WAL");
if (mode === "write") db.exec("BEGIN IMMEDIATE");
else {
  db.exec("BEGIN");
  db.prepare("SELECT count(*) FROM sqlite_master").get();
}
process.stdout.write("held\n");
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "release") {
    db.exec("COMMIT");
    db.close();
    process.stdout.write("released\n");
    process.exit(0);
  }
}
