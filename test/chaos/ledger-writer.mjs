// The chaos run's writer: another process committing numbered rows to the live app.db, as the knowledge-base app
// does. For each line "w <k>" on stdin it commits k rows (opening the file afresh each time, never creating it,
// WAL on), appends each acknowledged number to the ledger file and fsyncs it before going on, then answers "done".
// A row is in the ledger only after SQLite said COMMIT succeeded: the checker's "a writer saw it committed".
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import Database from "better-sqlite3";

const [file, ledgerFile, startArg] = process.argv.slice(2);
const ledger = openSync(ledgerFile, "a");
let n = Number(startArg ?? 0);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

for await (const line of createInterface({ input: process.stdin })) {
  const k = Number(line.split(" ")[1] ?? 0);
  for (let i = 0; i < k; i++) {
    n += 1;
    let db;
    try {
      db = new Database(file, { fileMustExist: true });
      db.pragma("busy_timeout = 50");
      db.pragma("journal_mode = WAL");
      db.exec("CREATE TABLE IF NOT EXISTS chaos_ledger (n INTEGER PRIMARY KEY, payload TEXT)");
      db.prepare("INSERT INTO chaos_ledger (n, payload) VALUES (?, ?)").run(n, "x".repeat(200));
      writeSync(ledger, `${n}\n`);
      fsyncSync(ledger);
    } catch {
      // Refused (busy, a restore's window, a full disk): not acknowledged, so not in the ledger.
    } finally {
      try {
        db?.close();
      } catch {}
    }
    await sleep(3);
  }
  process.stdout.write(`done ${n}\n`);
}
closeSync(ledger);
