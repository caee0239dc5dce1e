import path from "node:path";
import { type Ids, systemIds } from "./ids.js";

/**
 * Temp files carry the pid of the process writing them: `.<base>.<tag>-<pid>-<8 hex>` (SQLite may add
 * `-journal`, `-wal`, `-shm`). A sweep removes one only when no live process holds it (I4): its pid is dead, or
 * it is this process's pid but not one of this process's temps in flight (left by an earlier run that had the
 * same pid, as pid 1 in a container). A server and a CLI starting beside it therefore never remove each
 * other's work. Processes sharing a data dir must share a pid namespace (`docker compose exec`, not `run`).
 */

const inFlight = new Set<string>();

const TEMP = /^\.(.+)\.([a-z]+)-(\d+)-([0-9a-f]{8})(?:-journal|-wal|-shm)?$/;

export interface TempName {
  /** The name it stands in for (`app_….db`, `default.json`, `upload`). */
  base: string;
  /** What kind of temp: `tmp` (atomic writes, uploads, backups), `fetch`. */
  tag: string;
  pid: number;
  /** The temp's own name, without a SQLite suffix. */
  name: string;
}

/**
 * A new temp path in `dir` for `base`, registered as this process's until `releaseTemp`; its random part comes
 * from `ids` (deps.ids), the pid keeps two processes seeded alike apart.
 */
export function newTemp(dir: string, base: string, tag = "tmp", ids: Ids = systemIds): string {
  const file = path.join(dir, `.${base}.${tag}-${process.pid}-${ids.hex(4)}`);
  inFlight.add(file);
  return file;
}

/** The temp is renamed, linked or removed: it is no longer this process's work in flight. */
export function releaseTemp(file: string): void {
  inFlight.delete(file);
}

export function parseTemp(name: string): TempName | null {
  const match = TEMP.exec(name);
  if (!match) return null;
  const pid = Number(match[3]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  const [, base = "", tag = ""] = match;
  return { base, tag, pid, name: `.${base}.${tag}-${match[3]}-${match[4]}` };
}

/** Signal 0 checks existence only; EPERM means it exists under another user. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The parsed temp when `name` in `dir` is a temp (of `tag`, if given) that no live process holds, else null. */
export function abandonedTemp(dir: string, name: string, tag?: string): TempName | null {
  const temp = parseTemp(name);
  if (!temp || (tag !== undefined && temp.tag !== tag)) return null;
  if (temp.pid === process.pid) return inFlight.has(path.join(dir, temp.name)) ? null : temp;
  return isProcessAlive(temp.pid) ? null : temp;
}
