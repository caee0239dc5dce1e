import { z } from "zod";
import { BACKUP_FILENAME, databaseNameSchema, PRE_UPGRADE_FILENAME } from "../../lib/names.js";

/** `?database=NAME`: the database a call acts on; the server's current one when absent. */
export const DatabaseQuery = z.object({
  database: databaseNameSchema.optional().meta({
    description: "The database to act on; defaults to the server's current database.",
    example: "default",
  }),
});

// One pattern, so the document shows clients exactly which names the service accepts (lib/names.ts).
const BACKUP_FILE = new RegExp(`${BACKUP_FILENAME.source}|${PRE_UPGRADE_FILENAME.source}`);

export const BackupFilenameParam = z.object({
  filename: z
    .string()
    .regex(
      BACKUP_FILE,
      "not a backup filename ({app,auto,upload}_YYYYMMDD_HHMMSS[_N].db or pre-<revision>-<YYYYMMDDTHHMMSSZ>.db)",
    )
    .meta({ example: "app_20260101_020000.db" }),
});

/** The spec's backup timestamp, `YYYYMMDD_HHMMSS` in UTC. */
export const BackupStamp = z
  .string()
  .regex(/^\d{8}_\d{6}$/)
  .meta({ description: "UTC, `YYYYMMDD_HHMMSS`.", example: "20260101_020000" });

export const IsoTime = z.iso.datetime().meta({ example: "2026-01-01T02:00:00.000Z" });
