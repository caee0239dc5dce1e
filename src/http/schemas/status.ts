import { z } from "zod";
import { IsoTime } from "./common.js";
import { BucketTotals } from "./offsite-state.js";

const BackupKindSchema = z.enum(["backup", "scheduled", "uploaded", "pre-upgrade", "pre-restore"]);

export const DatabaseStatusSchema = z
  .object({
    name: z.string(),
    size: z.int().nonnegative(),
    schedule: z
      .object({ enabled: z.boolean(), next_run_at: IsoTime.nullable() })
      .nullable()
      .meta({ description: "null when no schedule is configured" }),
    last_backup: z.object({ filename: z.string(), at: IsoTime, kind: BackupKindSchema }).nullable(),
    last_good_backup_age_seconds: z.int().nonnegative().nullable(),
    last_failure: z
      .object({
        operation: z.string(),
        at: IsoTime,
        error: z.string(),
        filename: z.string().optional(),
        recovered: z
          .boolean()
          .optional()
          .meta({ description: "true once a good backup was written after it (an off-site failure: once copied)" }),
      })
      .optional(),
    warning: z
      .object({ operation: z.string(), at: IsoTime, message: z.string(), filename: z.string().optional() })
      .optional()
      .meta({ description: "Something to check that is not a failure, e.g. retention paused by a clock behind" }),
    offsite: z
      .object({
        pending: z.int().nonnegative(),
        failed: z.int().nonnegative(),
        uploads: z
          .object({
            state: z.enum(["pending", "uploading", "done", "failed", "disabled", "none"]).meta({
              description: "The newest backup's copy state (the uploads go with it); `none` without backups.",
            }),
            files: z.int().nonnegative(),
            bytes: z.int().nonnegative(),
            skipped: z.int().nonnegative().meta({ description: "Left for the next copy (being written, symlinks)." }),
          })
          .meta({ description: "The uploads captured off-site with the newest done copy." }),
        bucket: BucketTotals.nullable(),
      })
      .nullable()
      .meta({ description: "null when off-site copies are not configured" }),
    state: z.string().meta({
      description:
        "`ok` when nothing needs attention; else the migration state keeping the database out of service, " +
        "`failing` (a failure not recovered from) or `overdue` (a scheduled backup is missing)",
    }),
  })
  .meta({ id: "DatabaseStatus" });

export const ServiceStatusSchema = z
  .object({
    generated_at: IsoTime,
    instance: z.string().meta({ description: "This install's id, carried by its off-site object keys." }),
    databases: z.array(DatabaseStatusSchema),
  })
  .meta({ id: "ServiceStatus" });
