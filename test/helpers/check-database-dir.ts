import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import {
  ATOMIC_WRITE_TEMP,
  BACKUP_TEMP,
  DB_FILE,
  PRE_RESTORE_FILE,
  RESTORE_INTENT,
  STAGED_PREFIX,
} from "../../src/db/paths.js";
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
 * temporary is left (no intent, staged copy or temp file), and a replaced database is kept as app.db.pre_restore.
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
