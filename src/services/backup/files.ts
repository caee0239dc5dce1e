import { existsSync, statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { NotFoundError, ValidationError } from "../../errors.js";
import {
  BACKUP_FILENAME,
  type BackupPrefix,
  backupFilenameSchema,
  backupStamp,
  PRE_UPGRADE_FILENAME,
  preUpgradeStamp,
} from "../../lib/names.js";

export type BackupKind = "backup" | "scheduled" | "uploaded" | "pre-upgrade" | "pre-restore";

const KIND_OF_PREFIX: Record<BackupPrefix, BackupKind> = {
  app: "backup",
  auto: "scheduled",
  upload: "uploaded",
  prerestore: "pre-restore",
};

export interface BackupEntry {
  filename: string;
  size: number;
  created_at: string;
  kind: BackupKind;
}

interface ParsedName {
  kind: BackupKind;
  createdAt: string;
  sequence: number;
}

export function parseBackupName(filename: string): ParsedName | null {
  const backup = BACKUP_FILENAME.exec(filename);
  if (backup) {
    const kind = KIND_OF_PREFIX[backup[1] as BackupPrefix];
    return { kind, createdAt: `${backup[2]}_${backup[3]}`, sequence: Number(backup[4] ?? 0) };
  }
  const pre = PRE_UPGRADE_FILENAME.exec(filename);
  if (pre) return { kind: "pre-upgrade", createdAt: `${pre[2]}_${pre[3]}`, sequence: 0 };
  return null;
}

/** Validates a client-supplied filename and resolves it inside the database's backup directory. */
export function resolveBackupPath(dir: string, filename: string): string {
  const parsed = backupFilenameSchema.safeParse(filename);
  if (!parsed.success) {
    throw new ValidationError(parsed.error.issues[0]?.message ?? "invalid backup filename", { filename });
  }
  const resolved = path.join(dir, filename);
  if (path.dirname(resolved) !== path.resolve(dir)) throw new ValidationError("invalid backup filename", { filename });
  return resolved;
}

/** The backup's path; 404 unless a regular file has that name (a directory named like a backup is not one). */
export function requireBackupFile(dir: string, filename: string): string {
  const file = resolveBackupPath(dir, filename);
  const info = statSync(file, { throwIfNoEntry: false });
  if (!info) throw new NotFoundError(`backup "${filename}" does not exist`, { filename });
  if (!info.isFile()) throw notAFile(filename);
  return file;
}

/** What list shows is what exists: a name that is not a regular file is not a backup. */
export function notAFile(filename: string): NotFoundError {
  return new NotFoundError(`"${filename}" is not a backup file (a directory or other non-file has that name)`, {
    filename,
    reason: "not_a_file",
  });
}

/** The next free `<prefix>_YYYYMMDD_HHMMSS[_N].db` for this second. */
export function nextPrefixedName(prefix: BackupPrefix): (dir: string, now: Date) => string {
  return (dir, now) => {
    const stamp = backupStamp(now);
    for (let n = 0; ; n++) {
      const name = n === 0 ? `${prefix}_${stamp}.db` : `${prefix}_${stamp}_${n}.db`;
      if (!existsSync(path.join(dir, name))) return name;
    }
  };
}

/** The next free `app_YYYYMMDD_HHMMSS[_N].db` for this second. */
export const nextBackupName = nextPrefixedName("app");

/** `pre-<revision>-<YYYYMMDDTHHMMSSZ>.db`; a clash in the same second takes the next free second, never overwrites. */
export function preUpgradeBackupName(revision: string): (dir: string, now: Date) => string {
  return (dir, now) => {
    for (let ms = now.getTime(); ; ms += 1000) {
      const name = `pre-${revision}-${preUpgradeStamp(new Date(ms))}.db`;
      if (!existsSync(path.join(dir, name))) return name;
    }
  };
}

/** Backups newest first; files that vanish while listing (an outside cleanup) are skipped. */
export async function listBackupFiles(dir: string): Promise<BackupEntry[]> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [] as string[];
    throw error;
  });
  const entries: (BackupEntry & { sequence: number })[] = [];
  for (const filename of names) {
    const parsed = parseBackupName(filename);
    if (!parsed) continue;
    const info = await stat(path.join(dir, filename)).catch(() => null);
    if (!info?.isFile()) continue;
    entries.push({
      filename,
      size: info.size,
      created_at: parsed.createdAt,
      kind: parsed.kind,
      sequence: parsed.sequence,
    });
  }
  entries.sort((a, b) => b.created_at.localeCompare(a.created_at) || b.sequence - a.sequence);
  return entries.map(({ sequence: _, ...entry }) => entry);
}
