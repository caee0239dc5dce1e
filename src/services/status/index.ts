import { type BackupKind, listBackupFiles } from "../backup/files.js";
import type { ServiceDeps } from "../deps.js";
import { upgradeStatus } from "../migrations/index.js";
import { backupStampSeconds } from "../observability/metrics.js";

/** SPEC §10's per-database state; `null` where a feature is not configured or there is nothing yet. */
export interface DatabaseStatus {
  name: string;
  size: number;
  schedule: { enabled: boolean; next_run_at: string | null } | null;
  last_backup: { filename: string; at: string; kind: BackupKind } | null;
  last_good_backup_age_seconds: number | null;
  last_failure?: { operation: string; at: string; error: string; filename?: string };
  offsite: { pending: number; failed: number } | null;
  /** `ok`, or the migration state that keeps the database out of service (blocked, pending, ...). */
  state: string;
}

export interface ServiceStatus {
  generated_at: string;
  databases: DatabaseStatus[];
}

const isoFromStamp = (stamp: string) => new Date(backupStampSeconds(stamp) * 1000).toISOString();

async function databaseStatus(deps: ServiceDeps, name: string, now: Date): Promise<DatabaseStatus> {
  const [newest] = await listBackupFiles(deps.paths.backupDir(name));
  const upgrade = upgradeStatus(deps, name);
  const newestSeconds = newest ? backupStampSeconds(newest.created_at) : Number.NaN;
  return {
    name,
    size: deps.registry.size(name),
    schedule: null,
    last_backup: newest ? { filename: newest.filename, at: isoFromStamp(newest.created_at), kind: newest.kind } : null,
    last_good_backup_age_seconds: Number.isNaN(newestSeconds)
      ? null
      : Math.max(0, Math.round(now.getTime() / 1000 - newestSeconds)),
    offsite: null,
    state: upgrade.state === "up_to_date" ? "ok" : upgrade.state,
  };
}

/** What an operator checks from outside: per database, how fresh its backups are and what is wrong. */
export async function serviceStatus(deps: ServiceDeps): Promise<ServiceStatus> {
  const now = deps.now();
  const databases: DatabaseStatus[] = [];
  for (const name of deps.registry.names()) databases.push(await databaseStatus(deps, name, now));
  return { generated_at: now.toISOString(), databases };
}
