import { z } from "zod";
import { RETENTION_RULES, scheduleInputSchema } from "../../services/schedules/index.js";
import { IsoTime } from "./common.js";

export const ScheduleRequest = scheduleInputSchema.meta({
  id: "ScheduleRequest",
  description:
    "`cron`: 5 fields, 6 with seconds first, or @hourly/@daily/@weekly/@monthly. `timezone`: IANA name (default UTC). " +
    "`retention`: restic forget rules, each a count ≥ 0, at least one above 0.",
  example: { enabled: true, cron: "0 2 * * *", timezone: "UTC", retention: { keep_daily: 7, keep_weekly: 4 } },
});

export const RetentionRules = z
  .object(Object.fromEntries(RETENTION_RULES.map((rule) => [rule, z.int().nonnegative().optional()])))
  .meta({ id: "Retention" });

export const LastRun = z
  .object({
    at: IsoTime,
    outcome: z.enum(["ok", "failed", "skipped"]),
    filename: z.string().optional(),
    error: z.string().optional(),
    warning: z
      .string()
      .optional()
      .meta({ description: "An ok run whose retention pruned nothing: a backup is dated ahead of the clock" }),
  })
  .meta({ id: "LastRun" });

export const Schedule = z
  .object({
    database: z.string(),
    enabled: z.boolean(),
    cron: z.string(),
    timezone: z.string(),
    retention: RetentionRules,
    next_run_at: IsoTime.nullable(),
    last_run: LastRun.nullable(),
  })
  .meta({ id: "Schedule" });
