import { useQuery } from "@tanstack/react-query";
import { api, type Backup } from "../api.js";
import { formatLocal, parseBackupStamp, parseIso } from "../format.js";
import { offsiteWarnings } from "./offsite-messages.js";
import { scheduleKeys } from "./ScheduleCard.js";

/** The verification record, once the list carries it; older servers omit it. */
function verificationOf(backup: Backup): { state?: string; error?: string } | undefined {
  return (backup as { verification?: { state?: string; error?: string } }).verification;
}

/**
 * A banner when backups cannot be trusted to be there: the newest good backup is older than the schedule
 * promises, the last scheduled run failed or paused retention (the clock is behind), a backup failed its verification, or an off-site copy failed.
 */
export function BackupWarnings({ database, backups }: { database: string; backups: Backup[] | undefined }) {
  const health = useQuery({
    queryKey: scheduleKeys.health(database),
    queryFn: () => api.schedule.health.query({ database }),
  });
  const schedule = useQuery({
    queryKey: scheduleKeys.schedule(database),
    queryFn: () => api.schedule.get.query({ database }),
  });
  const warnings: string[] = [];
  const h = health.data;
  if (h?.overdue) {
    const promised = parseIso(h.promised_since);
    const newest = h.newest_good_backup ? parseBackupStamp(h.newest_good_backup.created_at) : null;
    warnings.push(
      `The newest good backup ${newest ? `is from ${formatLocal(newest)}` : "does not exist"}, older than the schedule ` +
        `promises: a backup was due at ${promised ? formatLocal(promised) : "an earlier run"}.`,
    );
  }
  const last = schedule.data?.last_run;
  if (last?.outcome === "failed") {
    const at = parseIso(last.at);
    warnings.push(
      `The last scheduled run failed${at ? ` at ${formatLocal(at)}` : ""}: ${last.error ?? "no reason given"}.`,
    );
  }
  if (last?.warning) warnings.push(`Scheduled backups are not pruned: ${last.warning}.`);
  for (const backup of backups ?? []) {
    const verification = verificationOf(backup);
    if (verification?.state === "failed") {
      warnings.push(
        `Backup ${backup.filename} failed verification${verification.error ? `: ${verification.error}` : ""}.`,
      );
    }
  }
  warnings.push(...offsiteWarnings(backups ?? []));
  if (warnings.length === 0) return null;
  return (
    <section className="backup-warnings" role="alert" aria-label="Backup warnings">
      <strong>Your backups need attention</strong>
      <ul>
        {warnings.map((text) => (
          <li key={text}>{text}</li>
        ))}
      </ul>
    </section>
  );
}
