import { stat } from "node:fs/promises";
import { listBackupFiles } from "../backup/files.js";
import { resolveDatabase } from "../databases/index.js";
import type { ServiceDeps } from "../deps.js";
import { FireTimes } from "./fire-times.js";
import { defaultIsGood } from "./good.js";
import { parseScheduleInput, type Retention, type ScheduleSettings } from "./settings.js";
import { stampToDate } from "./stamp.js";
import { type LastRun, ScheduleStore } from "./store.js";

export { defaultIsGood, type IsGood } from "./good.js";
export { planRetention, type RetentionCandidate, type RetentionPlan } from "./retention.js";
export { applyRetention, runScheduledBackup } from "./run.js";
export { Scheduler, type SchedulerHandle, type SchedulerOptions } from "./scheduler.js";
export {
  DEFAULT_SCHEDULE,
  parseScheduleInput,
  RETENTION_RULES,
  type Retention,
  type ScheduleInput,
  type ScheduleSettings,
  scheduleInputSchema,
} from "./settings.js";
export { type LastRun, ScheduleStore } from "./store.js";

/** The schedule as REST, tRPC and the CLI show it (docs/schedules.md). */
export interface ScheduleView {
  database: string;
  enabled: boolean;
  cron: string;
  timezone: string;
  retention: Retention;
  next_run_at: string | null;
  last_run: LastRun | null;
}

/** The next time `settings` fires after `from`, as the scheduler would arm it. */
export function nextFireTime(settings: ScheduleSettings, from?: Date): string | null {
  if (!settings.enabled) return null;
  return new FireTimes(settings.cron, settings.timezone).next(from)?.toISOString() ?? null;
}

async function view(deps: ServiceDeps, database: string, settings: ScheduleSettings): Promise<ScheduleView> {
  const store = new ScheduleStore(deps.paths);
  const state = deps.scheduler?.state(database) ?? (await store.readState(database));
  // A live scheduler knows a pending catch-up run; otherwise the expression says when it fires next.
  const next = deps.scheduler ? deps.scheduler.nextRunAt(database) : nextFireTime(settings, deps.now());
  return { database, ...settings, next_run_at: next ?? nextFireTime(settings, deps.now()), last_run: state.last_run };
}

export async function getSchedule(deps: ServiceDeps, database: string): Promise<ScheduleView> {
  resolveDatabase(deps, database);
  return view(deps, database, await new ScheduleStore(deps.paths).readSettings(database));
}

/** Replaces a database's schedule; nothing is written unless every field is valid. */
export async function setSchedule(deps: ServiceDeps, database: string, input: unknown): Promise<ScheduleView> {
  resolveDatabase(deps, database);
  const settings = parseScheduleInput(input);
  await new ScheduleStore(deps.paths).writeSettings(database, settings);
  deps.logger.info({ database, ...settings }, "schedule changed");
  await deps.scheduler?.reload(database);
  return view(deps, database, settings);
}

export async function disableSchedule(deps: ServiceDeps, database: string): Promise<ScheduleView> {
  const current = await new ScheduleStore(deps.paths).readSettings(database);
  return setSchedule(deps, database, { ...current, enabled: false });
}

/** What the UI's warning banner says about a database's backups: failed runs, missed runs. */
export interface ScheduleHealth {
  newest_good_backup: { filename: string; created_at: string } | null;
  /** The latest scheduled run (an hour ago or more) since the schedule was set, or null if none is due yet. */
  promised_since: string | null;
  overdue: boolean;
  last_run_failed: boolean;
}

/** A run gets this long to finish before its backup counts as missing. */
const RUN_GRACE_MS = 60 * 60 * 1000;

export async function scheduleHealth(deps: ServiceDeps, database: string): Promise<ScheduleHealth> {
  const schedule = await getSchedule(deps, database);
  const isGood = defaultIsGood(deps);
  let newest: ScheduleHealth["newest_good_backup"] = null;
  for (const backup of await listBackupFiles(deps.paths.backupDir(database))) {
    if (await isGood(database, backup.filename)) {
      newest = { filename: backup.filename, created_at: backup.created_at };
      break;
    }
  }
  // The promise starts when the schedule was written (first start, PUT, CLI): a fresh install is not overdue.
  const since = (await stat(new ScheduleStore(deps.paths).settingsFile(database)).catch(() => null))?.mtimeMs ?? null;
  const promised = schedule.enabled ? previousFireTime(schedule, new Date(deps.now().getTime() - RUN_GRACE_MS)) : null;
  const promisedAt = promised && since !== null && promised.getTime() > since ? promised : null;
  const newestAt = newest ? stampToDate(newest.created_at).getTime() : Number.NEGATIVE_INFINITY;
  return {
    newest_good_backup: newest,
    promised_since: promisedAt?.toISOString() ?? null,
    overdue: promisedAt !== null && newestAt < promisedAt.getTime(),
    last_run_failed: schedule.last_run?.outcome === "failed",
  };
}

/**
 * The last time at or before `before` the schedule fires. croner only looks forward, so step back by a few
 * gaps between runs and walk forward from there.
 */
export function previousFireTime(settings: ScheduleSettings, before: Date): Date | null {
  const cron = new FireTimes(settings.cron, settings.timezone);
  const ahead = cron.nextRuns(4, before);
  let gap = 0;
  for (let i = 1; i < ahead.length; i++)
    gap = Math.max(gap, (ahead[i]?.getTime() ?? 0) - (ahead[i - 1]?.getTime() ?? 0));
  if (gap === 0) return null;
  let cursor: Date | null = new Date(before.getTime() - 2 * gap);
  let last: Date | null = null;
  for (let i = 0; i < 1000; i++) {
    cursor = cron.next(cursor);
    if (!cursor || cursor.getTime() > before.getTime()) break;
    last = cursor;
  }
  return last;
}
