import { Command, InvalidArgumentError } from "commander";
import { resolveDatabase } from "../../services/databases/index.js";
import { getSchedule, RETENTION_RULES, type Retention, type ScheduleView } from "../../services/schedules/index.js";
import { action, type CommonOptions, databaseCommand, emit, humanTime, table, withServices } from "../common.js";
import { withOperator } from "../operator.js";

interface ScheduleOptions extends CommonOptions {
  database?: string;
  cron?: string;
  timezone?: string;
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
}

const FLAG_OF_RULE = {
  keep_last: "keepLast",
  keep_hourly: "keepHourly",
  keep_daily: "keepDaily",
  keep_weekly: "keepWeekly",
  keep_monthly: "keepMonthly",
  keep_yearly: "keepYearly",
} as const;

const PICKED_UP = "a running server picks the change up within a few seconds";

function count(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a whole number, 0 or more");
  return Number(value);
}

export function describeRetention(retention: Retention): string {
  const rules = RETENTION_RULES.filter((rule) => retention[rule] !== undefined);
  return rules.map((rule) => `${rule} ${retention[rule]}`).join(", ") || "(none)";
}

function humanLines(view: ScheduleView): string[] {
  const last = view.last_run;
  const lastLine = last
    ? `${last.outcome} at ${humanTime(last.at)}${last.filename ? ` (${last.filename})` : ""}${last.error ? `: ${last.error}` : ""}`
    : "never";
  return table([
    ["database", view.database],
    ["enabled", view.enabled ? "yes" : "no"],
    ["cron", `${view.cron} (${view.timezone})`],
    ["retention", describeRetention(view.retention)],
    ["next run", humanTime(view.next_run_at)],
    ["last run", lastLine],
  ]);
}

export function scheduleCommands(): Command {
  const schedule = new Command("schedule").description(
    "show or change a database's backup schedule and retention (kept in <data-dir>/schedules/)",
  );

  schedule.addCommand(
    databaseCommand("show", "print the schedule, its next run and the last run's outcome").action(
      action<ScheduleOptions>((options) =>
        withServices(options, async (deps) => {
          const view = await getSchedule(deps, resolveDatabase(deps, options.database));
          emit(options, view, humanLines(view));
        }),
      ),
    ),
  );

  const set = databaseCommand(
    "set",
    "enable the schedule, changing what the flags name; any --keep-* flag replaces the whole retention",
  )
    .option("--cron <expression>", "5 fields, 6 with seconds first, or @hourly/@daily/@weekly/@monthly")
    .option("--timezone <zone>", "IANA time zone the expression and retention days are read in (e.g. Europe/Berlin)");
  for (const rule of RETENTION_RULES) {
    set.option(`--${rule.replace("_", "-")} <n>`, `restic's ${rule}`, count);
  }
  schedule.addCommand(
    set.action(
      action<ScheduleOptions>((options) =>
        withOperator(options, async (operator) => {
          const given = RETENTION_RULES.filter((rule) => options[FLAG_OF_RULE[rule]] !== undefined);
          const view = await operator.run("schedule.set", {
            database: options.database,
            cron: options.cron,
            timezone: options.timezone,
            // Any --keep-* flag replaces the whole retention; none keeps it.
            retention: given.length
              ? Object.fromEntries(given.map((rule) => [rule, options[FLAG_OF_RULE[rule]] as number]))
              : undefined,
          });
          emit(options, view, [...humanLines(view), `(${PICKED_UP})`]);
        }),
      ),
    ),
  );

  schedule.addCommand(
    databaseCommand("disable", "stop scheduled backups of a database (its settings are kept)").action(
      action<ScheduleOptions>((options) =>
        withOperator(options, async (operator) => {
          const view = await operator.run("schedule.disable", { database: options.database });
          emit(options, view, `scheduled backups of database ${view.database} are off (${PICKED_UP})`);
        }),
      ),
    ),
  );
  return schedule;
}
