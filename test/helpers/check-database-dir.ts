import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  ATOMIC_WRITE_TEMP,
  BACKUP_TEMP,
  DB_FILE,
  OLD_SAFETY_PREFIX,
  PRE_RESTORE_FILE,
  RESTORE_INTENT,
  recordName,
  STAGED_PREFIX,
} from "../../src/db/paths.js";
import { parseTemp } from "../../src/lib/temp-names.js";
import { parseBackupName } from "../../src/services/backup/files.js";
import { inspect, titles } from "./seed.js";

export interface DatabaseDirExpectation {
  /** The titles the database held before the operation. */
  before: string[];
  /** The titles it holds if the operation took effect. */
  after: string[];
}

/**
 * The invariant a database directory keeps after any crash and the start-up recovery that follows (docs/format.md):
 * the live database exists and passes integrity_check, it holds either the old or the new content, nothing
 * temporary is left (no intent, staged copy, set-aside safety copy or temp file), and a replaced database is kept as app.db.pre_restore.
 * Returns which content is live; throws an Error saying what is broken. Used by the crash-point loops and the
 * chaos run.
 */
export function checkDatabaseDir(dir: string, expected: DatabaseDirExpectation): "before" | "after" {
  const appDb = path.join(dir, DB_FILE);
  if (!existsSync(appDb)) throw new Error(`${dir}: ${DB_FILE} is missing`);
  const integrity = inspect(appDb, (s) => s.pragma("integrity_check", { simple: true }));
  if (integrity !== "ok") throw new Error(`${dir}: ${DB_FILE} fails integrity_check: ${String(integrity)}`);
  const live = titles(appDb);
  const same = (a: string[], b: string[]) => JSON.stringify(a) === JSON.stringify(b);
  const state = same(live, expected.after) ? "after" : same(live, expected.before) ? "before" : null;
  if (state === null)
    throw new Error(`${dir}: ${DB_FILE} holds neither the old nor the new content: ${live.join(",")}`);
  const leftovers = readdirSync(dir).filter(
    (name) =>
      name === RESTORE_INTENT ||
      name.startsWith(STAGED_PREFIX) ||
      name.startsWith(OLD_SAFETY_PREFIX) ||
      parseTemp(name) !== null ||
      ATOMIC_WRITE_TEMP.test(name) ||
      BACKUP_TEMP.test(name),
  );
  if (leftovers.length > 0) throw new Error(`${dir}: left behind: ${leftovers.join(", ")}`);
  const preRestore = path.join(dir, PRE_RESTORE_FILE);
  if (state === "after" && !same(expected.before, expected.after)) {
    if (!existsSync(preRestore)) throw new Error(`${dir}: the replaced database was not kept as ${PRE_RESTORE_FILE}`);
    if (!same(titles(preRestore), expected.before))
      throw new Error(`${dir}: ${PRE_RESTORE_FILE} is not the old content`);
  }
  return state;
}

export interface BackupDirExpectation {
  /** The backups present before the operation, with the titles each holds: every one must still be there, whole. */
  kept: Record<string, string[]>;
  /** The titles a backup the operation adds holds. */
  added: string[];
  /** The operation answered success before the crash (if any): its backup must be there. */
  acknowledged: boolean;
  /**
   * Listing a replaced database may repeat after a crash, or in a copied data dir (its marker is written last
   * and names the inode, docs/format.md): a duplicate of `added` or of a kept backup, never an unlisted one.
   * Elsewhere a second new backup is a fault.
   */
  duplicates?: boolean;
}

/**
 * The invariant a backup directory keeps after any crash and the start-up recovery that follows: no temp file
 * is left (backup, upload, fetch or atomic-write temps), every earlier backup is still there and passes
 * integrity_check with its content, at most one new backup exists (exactly one once acknowledged) and it is
 * whole (or whole duplicates, where allowed), and a record beside a backup names that backup's SHA-256 (a wrong one would refuse its restore).
 * Returns the new backup's name, or null.
 */
export function checkBackupDir(dir: string, expected: BackupDirExpectation): string | null {
  const names = existsSync(dir) ? readdirSync(dir) : [];
  const leftovers = names.filter(
    (name) => BACKUP_TEMP.test(name) || ATOMIC_WRITE_TEMP.test(name) || parseTemp(name) !== null,
  );
  if (leftovers.length > 0) throw new Error(`${dir}: left behind: ${leftovers.join(", ")}`);
  const backups = names.filter((name) => parseBackupName(name) !== null);
  for (const [filename, content] of Object.entries(expected.kept)) {
    if (!backups.includes(filename)) throw new Error(`${dir}: the earlier backup ${filename} is gone`);
    checkWhole(path.join(dir, filename), [content]);
  }
  const added = backups.filter((name) => !(name in expected.kept));
  if (added.length > 1 && !expected.duplicates)
    throw new Error(`${dir}: more than one new backup: ${added.join(", ")}`);
  const [created] = added;
  if (expected.acknowledged && !created) throw new Error(`${dir}: the acknowledged backup is gone`);
  const allowed = [expected.added, ...(expected.duplicates ? Object.values(expected.kept) : [])];
  for (const name of added) checkWhole(path.join(dir, name), allowed);
  for (const filename of backups) {
    const record = path.join(dir, recordName(filename));
    if (!existsSync(record)) continue;
    const { sha256 } = JSON.parse(readFileSync(record, "utf8")) as { sha256: string };
    const actual = createHash("sha256")
      .update(readFileSync(path.join(dir, filename)))
      .digest("hex");
    if (sha256 !== actual) throw new Error(`${dir}: the record of ${filename} names another SHA-256`);
  }
  return created ?? null;
}

/** The file passes integrity_check and holds one of the `contents`. */
function checkWhole(file: string, contents: string[][]): void {
  const integrity = inspect(file, (s) => s.pragma("integrity_check", { simple: true }));
  if (integrity !== "ok") throw new Error(`${file} fails integrity_check: ${String(integrity)}`);
  const held = JSON.stringify(titles(file));
  if (!contents.some((c) => JSON.stringify(c) === held)) throw new Error(`${file} holds ${held}`);
}
