import { Command } from "commander";
import { serviceStatus } from "../../services/status/index.js";
import {
  action,
  type CommonOptions,
  emit,
  formatBytes,
  table,
  tableTime,
  withCommonOptions,
  withServices,
} from "../common.js";

/** Seconds as the largest whole unit that fits: 90 → "1 min", 7200 → "2 h". */
function age(seconds: number | null): string {
  if (seconds === null) return "never";
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86_400)} d`;
}

export function statusCommand(): Command {
  return withCommonOptions(
    new Command("status").description("per database: size, newest backup and its age, schedule, off-site, problems"),
  ).action(
    action<CommonOptions>((options) =>
      withServices(options, async (deps) => {
        const status = await serviceStatus(deps);
        const rows = status.databases.map((d) => [
          d.name,
          formatBytes(d.size),
          d.last_backup ? `${d.last_backup.filename} (${tableTime(d.last_backup.at)})` : "none",
          age(d.last_good_backup_age_seconds),
          d.schedule ? (d.schedule.enabled ? `next ${tableTime(d.schedule.next_run_at ?? "")}` : "disabled") : "-",
          d.offsite ? `${d.offsite.pending} pending, ${d.offsite.failed} failed` : "-",
          [d.state, d.last_failure && `last failure: ${d.last_failure.operation}`, d.warning && "retention paused"]
            .filter(Boolean)
            .join("; "),
        ]);
        const warnings = status.databases.flatMap((d) => (d.warning ? [`${d.name}: ${d.warning.message}`] : []));
        const header = ["DATABASE", "SIZE", "NEWEST BACKUP (UTC)", "AGE", "SCHEDULE", "OFF-SITE", "STATE"];
        emit(options, status, [...table([header, ...rows]), ...warnings]);
      }),
    ),
  );
}
