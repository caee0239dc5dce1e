import { Cron } from "croner";
import { z } from "zod";
import { ValidationError } from "../../errors.js";

/** restic `forget`'s rules, each counted on its own (docs/schedules.md). */
export const RETENTION_RULES = [
  "keep_last",
  "keep_hourly",
  "keep_daily",
  "keep_weekly",
  "keep_monthly",
  "keep_yearly",
] as const;
export type RetentionRule = (typeof RETENTION_RULES)[number];
export type Retention = Partial<Record<RetentionRule, number>>;

/** What an operator chooses for one database; kept in the data dir, outside `app.db`. */
export interface ScheduleSettings {
  enabled: boolean;
  cron: string;
  timezone: string;
  retention: Retention;
}

export const DEFAULT_SCHEDULE: ScheduleSettings = Object.freeze({
  enabled: true,
  cron: "0 2 * * *",
  timezone: "UTC",
  retention: Object.freeze({ keep_daily: 7, keep_weekly: 4 }),
}) as ScheduleSettings;

const NICKNAMES = new Set(["@hourly", "@daily", "@weekly", "@monthly"]);
const MAX_COUNT = 100_000;

/** Each message names its field, so a refusal reads the same from the service and from a route's schema check. */
const count = (rule: RetentionRule) =>
  z
    .number({ error: `retention.${rule}: must be a whole number` })
    .int(`retention.${rule}: must be a whole number`)
    .min(0, `retention.${rule}: must be 0 or more`)
    .max(MAX_COUNT, `retention.${rule}: must be at most ${MAX_COUNT}`);

const retentionSchema = z.strictObject(
  Object.fromEntries(RETENTION_RULES.map((rule) => [rule, count(rule).optional()])) as Record<
    RetentionRule,
    z.ZodOptional<z.ZodNumber>
  >,
  {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `retention: unknown rule ${issue.keys.join(", ")} (known: ${RETENTION_RULES.join(", ")})`
        : "retention: must be an object of counts",
  },
);

/** The body of `PUT /schedule`, `schedule.set` and what the store holds. */
export const scheduleInputSchema = z.object(
  {
    enabled: z.boolean({ error: "enabled: must be true or false" }),
    cron: z.string({ error: "cron: must be a cron expression" }),
    timezone: z.string({ error: "timezone: must be an IANA time zone name" }).optional(),
    retention: retentionSchema,
  },
  { error: "the schedule must be a JSON object" },
);
export type ScheduleInput = z.input<typeof scheduleInputSchema>;

function invalid(field: string, message: string, value?: unknown): never {
  throw new ValidationError(`${field}: ${message}`, { field, ...(value === undefined ? {} : { value }) });
}

export function assertTimezone(timezone: string): void {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    invalid("timezone", `"${timezone}" is not an IANA time zone name (e.g. UTC, Europe/Berlin)`, timezone);
  }
}

/** 5 fields, 6 with seconds first, or one of the four nicknames; it must fire at least once. */
export function assertCron(cron: string, timezone: string): void {
  const trimmed = cron.trim();
  const fields = trimmed.split(/\s+/).length;
  if (trimmed.startsWith("@")) {
    if (!NICKNAMES.has(trimmed)) invalid("cron", `only ${[...NICKNAMES].join(", ")} are accepted as nicknames`, cron);
  } else if (fields !== 5 && fields !== 6) {
    invalid("cron", `expected 5 fields (minute first) or 6 (seconds first), got ${fields}`, cron);
  }
  let next: Date | null = null;
  try {
    next = new Cron(trimmed, { timezone, paused: true }).nextRun();
  } catch (error) {
    invalid("cron", (error as Error).message.replace(/^CronPattern: /, ""), cron);
  }
  if (!next) invalid("cron", "this expression never fires", cron);
}

export function assertRetention(retention: Retention): void {
  if (!RETENTION_RULES.some((rule) => (retention[rule] ?? 0) > 0)) {
    invalid("retention", "at least one rule must keep something (a count above 0)", retention);
  }
}

/** Validates untrusted input into settings; every refusal is a 400 naming the field. */
export function parseScheduleInput(raw: unknown): ScheduleSettings {
  const parsed = scheduleInputSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.length ? issue.path.join(".") : "body";
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
    throw new ValidationError(issue?.message ?? "invalid schedule", { field, issues });
  }
  const timezone = parsed.data.timezone ?? "UTC";
  assertTimezone(timezone);
  const cron = parsed.data.cron.trim();
  assertCron(cron, timezone);
  const retention = parsed.data.retention as Retention;
  assertRetention(retention);
  return { enabled: parsed.data.enabled, cron, timezone, retention };
}
