import { Command } from "commander";
import { type DatabaseStatus, serviceStatus } from "../../services/status/index.js";
import {
  action,
  type CommonOptions,
  emit,
  formatBytes,
  humanTime,
  PartialFailure,
  table,
  withCommonOptions,
  withServices,
} from "../common.js";
import { serverOn } from "../operator.js";

interface StatusOptions extends CommonOptions {
  check?: boolean;
}

/** Seconds as the largest whole unit that fits: 90 → "1 min", 7200 → "2 h". */
function age(seconds: number | null): string {
  if (seconds === null) return "never";
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86_400)} d`;
}

/** Schedules run in the server only: without one, a next run is a promise nobody keeps, so it is not printed. */
function scheduleCell(schedule: { enabled: boolean; next_run_at: string | null } | null, running: boolean): string {
  if (!schedule) return "-";
  if (!schedule.enabled) return "disabled";
  return running ? `next ${humanTime(schedule.next_run_at)}` : "enabled, no server";
}

/** Copies not made yet, and what the bucket holds for the database as last measured ("bucket 1.2 GiB, 1.4×"). */
function offsiteCell(offsite: NonNullable<DatabaseStatus["offsite"]>): string {
  const copies = `${offsite.pending} pending, ${offsite.failed} failed`;
  const bucket = offsite.bucket;
  if (!bucket) return copies;
  const ratio = bucket.ratio === null ? "" : `, ${bucket.ratio.toFixed(1)}×`;
  return `${copies}; bucket ${formatBytes(bucket.bytes)}${ratio}`;
}

const SERVER_LINE = {
  true: "server: running on this data dir (scheduled backups run)",
  false: "server: NOT running on this data dir: scheduled backups do not run until `chaoscypher serve` starts",
};

export function statusCommand(): Command {
  return withCommonOptions(
    new Command("status").description("per database: size, newest backup and its age, schedule, off-site, problems"),
  )
    .option("--check", "exit 1 when any database needs attention (its state is not ok)")
    .action(
      action<StatusOptions>((options) =>
        withServices(options, async (deps) => {
          const running = (await serverOn(deps.paths.controlSocket)) === "running";
          const status = await serviceStatus(deps);
          const rows = status.databases.map((d) => [
            d.name,
            formatBytes(d.size),
            d.last_backup ? `${d.last_backup.filename} (${humanTime(d.last_backup.at)})` : "none",
            age(d.last_good_backup_age_seconds),
            scheduleCell(d.schedule, running),
            d.offsite ? offsiteCell(d.offsite) : "-",
            [
              d.state,
              d.last_failure &&
                `${d.last_failure.recovered ? "recovered from" : "last failure"}: ${d.last_failure.operation} at ${humanTime(d.last_failure.at)}`,
              d.warning && "retention paused",
            ]
              .filter(Boolean)
              .join("; "),
          ]);
          const warnings = status.databases.flatMap((d) => (d.warning ? [`${d.name}: ${d.warning.message}`] : []));
          const header = ["DATABASE", "SIZE", "NEWEST BACKUP", "AGE", "SCHEDULE", "OFF-SITE", "STATE"];
          emit(options, { ...status, server: { running } }, [
            `install ${status.instance}`,
            SERVER_LINE[`${running}`],
            ...table([header, ...rows]),
            ...warnings,
          ]);
          const attention = status.databases.filter((d) => d.state !== "ok").map((d) => `${d.name} (${d.state})`);
          if (options.check && attention.length > 0) {
            throw new PartialFailure(`needs attention: ${attention.join(", ")}`);
          }
        }),
      ),
    );
}
