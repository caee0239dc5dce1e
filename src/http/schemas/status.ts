import { z } from "zod";
import { IsoTime } from "./common.js";

const BackupKindSchema = z.enum(["backup", "scheduled", "uploaded", "pre-upgrade"]);

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
      .object({ operation: z.string(), at: IsoTime, error: z.string(), filename: z.string().optional() })
      .optional(),
    warning: z
      .object({ operation: z.string(), at: IsoTime, message: z.string(), filename: z.string().optional() })
      .optional()
      .meta({ description: "Something to check that is not a failure, e.g. retention paused by a clock behind" }),
    offsite: z
      .object({ pending: z.int().nonnegative(), failed: z.int().nonnegative() })
      .nullable()
      .meta({ description: "null when off-site copies are not configured" }),
    state: z.string().meta({ description: "`ok`, or the migration state keeping the database out of service" }),
  })
  .meta({ id: "DatabaseStatus" });

export const ServiceStatusSchema = z
  .object({ generated_at: IsoTime, databases: z.array(DatabaseStatusSchema) })
  .meta({ id: "ServiceStatus" });
