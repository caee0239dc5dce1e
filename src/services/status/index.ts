import { type BackupKind, listBackupFiles } from "../backup/files.js";
import { readRecord } from "../backup/records.js";
import type { ServiceDeps } from "../deps.js";
import { upgradeStatus } from "../migrations/index.js";
import { backupStampSeconds } from "../observability/metrics.js";
import { offsiteCounts, offsiteOfBackups } from "../offsite/index.js";
import { getSchedule, scheduleHealth } from "../schedules/index.js";

/** The per-database state of /status; `null` where a feature is not configured or there is nothing yet. */
export interface DatabaseStatus {
  name: string;
  size: number;
  schedule: { enabled: boolean; next_run_at: string | null } | null;
  last_backup: { filename: string; at: string; kind: BackupKind } | null;
  last_good_backup_age_seconds: number | null;
  /** `recovered`: a good backup was written after it (an off-site failure stays until its copy is made). */
  last_failure?: { operation: string; at: string; error: string; filename?: string; recovered?: boolean };
  /** The last scheduled run's retention was paused (a backup dated ahead of the clock). */
  warning?: { operation: string; at: string; message: string; filename?: string };
  offsite: { pending: number; failed: number } | null;
  /**
   * `ok`; the migration state that keeps the database out of service (blocked, pending, ...); `failing` (a
   * failure not recovered from); `overdue` (a scheduled backup is missing). Anything but `ok` needs attention.
   */
  state: string;
}

export interface ServiceStatus {
  generated_at: string;
  /** This install's id (in its off-site keys; CHAOSCYPHER_INSTANCE overrides it). */
  instance: string;
  databases: DatabaseStatus[];
}

const isoFromStamp = (stamp: string) => new Date(backupStampSeconds(stamp) * 1000).toISOString();

type Failure = NonNullable<DatabaseStatus["last_failure"]>;

/** The newest failure other areas recorded: the schedule's last run, verifications, off-site copies. */
async function lastFailure(deps: ServiceDeps, name: string): Promise<Failure | undefined> {
  const failures: Failure[] = [];
  const dir = deps.paths.backupDir(name);
  const files = (await listBackupFiles(dir)).map((b) => b.filename);
  for (const filename of files) {
    const verification = (await readRecord(dir, filename))?.verification;
    if (verification?.state === "failed" && verification.at) {
      failures.push({
        operation: "verification",
        at: verification.at,
        error: verification.error ?? "failed",
        filename,
      });
    }
  }
  if (deps.offsite) {
    for (const [filename, copy] of await offsiteOfBackups(deps, name, files)) {
      if (copy.state !== "failed" || !("at" in copy) || !copy.at) continue;
      failures.push({ operation: "offsite", at: copy.at, error: copy.error ?? "failed", filename });
    }
  }
  const run = (await getSchedule(deps, name)).last_run;
  if (run?.outcome === "failed") {
    failures.push({
      operation: "scheduled_run",
      at: run.at,
      error: run.error ?? "failed",
      ...(run.filename ? { filename: run.filename } : {}),
    });
  }
  return failures.sort((a, b) => b.at.localeCompare(a.at))[0];
}

/**
 * A failed run or verification is recovered from once a good backup was written after it; an off-site copy
 * that failed is not, while it stays failed (the copy the operator relies on is still missing).
 */
function withRecovery(failure: Failure | undefined, goodSeconds: number): Failure | undefined {
  if (!failure) return undefined;
  const recovered = failure.operation !== "offsite" && goodSeconds * 1000 > Date.parse(failure.at);
  return recovered ? { ...failure, recovered: true } : failure;
}

/** Scripts act on `state` alone (`chaoscypher status --check`): it is `ok` only when nothing needs attention. */
function stateOf(upgradeState: string, failure: Failure | undefined, overdue: boolean): string {
  if (upgradeState !== "up_to_date") return upgradeState;
  if (failure && !failure.recovered) return "failing";
  return overdue ? "overdue" : "ok";
}

async function databaseStatus(deps: ServiceDeps, name: string, now: Date): Promise<DatabaseStatus> {
  const [newest] = await listBackupFiles(deps.paths.backupDir(name));
  const upgrade = upgradeStatus(deps, name);
  const schedule = await getSchedule(deps, name);
  const health = await scheduleHealth(deps, name);
  const good = health.newest_good_backup;
  const goodSeconds = good ? backupStampSeconds(good.created_at) : Number.NaN;
  const failure = withRecovery(await lastFailure(deps, name), goodSeconds);
  return {
    name,
    size: deps.registry.size(name),
    schedule: { enabled: schedule.enabled, next_run_at: schedule.next_run_at },
    last_backup: newest ? { filename: newest.filename, at: isoFromStamp(newest.created_at), kind: newest.kind } : null,
    last_good_backup_age_seconds: Number.isNaN(goodSeconds)
      ? null
      : Math.max(0, Math.round(now.getTime() / 1000 - goodSeconds)),
    ...(failure ? { last_failure: failure } : {}),
    ...(schedule.last_run?.warning
      ? { warning: { operation: "retention", at: schedule.last_run.at, message: schedule.last_run.warning } }
      : {}),
    offsite: deps.offsite ? await offsiteCounts(deps, name) : null,
    state: stateOf(upgrade.state, failure, health.overdue),
  };
}

/** What an operator checks from outside: per database, how fresh its backups are and what is wrong. */
export async function serviceStatus(deps: ServiceDeps): Promise<ServiceStatus> {
  const now = deps.now();
  const databases: DatabaseStatus[] = [];
  for (const name of deps.registry.names()) databases.push(await databaseStatus(deps, name, now));
  return { generated_at: now.toISOString(), instance: deps.instance.id, databases };
}
