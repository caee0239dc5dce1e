import { z } from "zod";

export const DATABASE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/**
 * `app_` manual, `auto_` scheduled, `upload_` uploaded or imported, `prerestore_` a database a restore replaced
 * (named by the time it was replaced); the prefix is the kind (group 1).
 */
export const BACKUP_FILENAME = /^(app|auto|upload|prerestore)_(\d{8})_(\d{6})(?:_(\d{1,6}))?\.db$/;
export const BACKUP_PREFIXES = ["app", "auto", "upload", "prerestore"] as const;
export type BackupPrefix = (typeof BACKUP_PREFIXES)[number];
export const PRE_UPGRADE_FILENAME = /^pre-([A-Za-z0-9_]{1,128})-(\d{8})T(\d{6})Z\.db$/;

/** An install's id as requests name it (`legacy` for format-1 off-site copies, which have none). */
export const installIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "install ids are 1-63 of a-z, 0-9 and '-'")
  .meta({
    description: "An install's id; `legacy` names format-1 copies (made before installs had ids).",
    example: "host-1a2b3c4d",
  });

export const databaseNameSchema = z
  .string()
  .regex(DATABASE_NAME, "database names are 1-64 letters, digits, '_' or '-'");

export const backupFilenameSchema = z
  .string()
  .refine(
    (name) => BACKUP_FILENAME.test(name) || PRE_UPGRADE_FILENAME.test(name),
    "not a backup filename ({app,auto,upload,prerestore}_YYYYMMDD_HHMMSS[_N].db or pre-<revision>-<YYYYMMDDTHHMMSSZ>.db)",
  );

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** `YYYYMMDD_HHMMSS` in UTC, the spec's backup timestamp. */
export function backupStamp(date: Date): string {
  const d = `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}`;
  const t = `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`;
  return `${d}_${t}`;
}

/** `YYYYMMDDTHHMMSSZ`, the stamp of automatic pre-upgrade backups. */
export function preUpgradeStamp(date: Date): string {
  return `${backupStamp(date).replace("_", "T")}Z`;
}
