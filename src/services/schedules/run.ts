import { rm } from "node:fs/promises";
import path from "node:path";
import { ServiceError } from "../../errors.js";
import { writeBackup } from "../backup/create.js";
import { listBackupFiles, nextPrefixedName } from "../backup/files.js";
import { removeRecords } from "../backup/records.js";
import { resolveDatabase } from "../databases/index.js";
import type { ServiceDeps } from "../deps.js";
import type { OperationLock } from "../locks.js";
import type { VerificationOf } from "./good.js";
import { futureDated, planRetention, type RetentionPlan } from "./retention.js";
import type { ScheduleSettings } from "./settings.js";
import { stampToDate } from "./stamp.js";
import type { LastRun } from "./store.js";

const nextScheduledName = nextPrefixedName("auto");

/**
 * One scheduled run: an `auto_` backup exactly as `POST /backup` writes it (same lock, same writer), then
 * retention. A database that is busy or out of service is skipped, never waited for: runs do not pile up.
 */
export async function runScheduledBackup(
  deps: ServiceDeps,
  database: string,
  settings: ScheduleSettings,
  verificationOf: VerificationOf,
): Promise<LastRun> {
  const at = deps.now().toISOString();
  const started = performance.now();
  const log = deps.logger.child({ database, operation: "scheduled_run" });
  log.info("scheduled run started");
  const finish = (run: LastRun): LastRun => {
    const { outcome, filename, error } = run;
    const durationMs = Math.round(performance.now() - started);
    log[outcome === "ok" ? "info" : outcome === "skipped" ? "warn" : "error"](
      { outcome, filename, error, durationMs },
      "scheduled run finished",
    );
    deps.events.emit({ type: "operation.finished", database, operation: "scheduled_run", outcome, filename, error });
    return run;
  };
  // Busy (another backup, a restore, a CLI command) or out of service: skipped, never waited for.
  let lock: OperationLock;
  try {
    resolveDatabase(deps, database);
    lock = deps.locks.acquire(database, "backup");
  } catch (error) {
    const outcome = error instanceof ServiceError ? "skipped" : "failed";
    return finish({ at, outcome, error: (error as Error).message });
  }
  try {
    let filename: string;
    try {
      // Page-preserving: consecutive scheduled backups share their unchanged pages (incremental off-site copies).
      ({ filename } = await writeBackup(deps, database, nextScheduledName, "pages"));
    } catch (error) {
      return finish({ at, outcome: "failed", error: (error as Error).message });
    }
    const retention = await applyRetention(deps, database, settings, verificationOf, filename).catch(
      (error: unknown) => {
        log.error({ err: error }, "retention failed; no backup was removed after the failure");
        return null;
      },
    );
    return finish({ at, outcome: "ok", filename, ...(retention?.warning ? { warning: retention.warning } : {}) });
  } finally {
    lock.release();
  }
}

export interface RetentionOutcome extends RetentionPlan {
  /** Set when nothing was pruned because a backup is dated ahead of this host's clock. */
  warning?: string;
}

/**
 * Removes the scheduled backups the rules do not keep; each removal is an event (off-site copies follow it).
 * `written`, the file the current run wrote, is never removed; while a backup is dated in the future nothing is.
 */
export async function applyRetention(
  deps: ServiceDeps,
  database: string,
  settings: ScheduleSettings,
  verificationOf: VerificationOf,
  written?: string,
): Promise<RetentionOutcome> {
  const dir = deps.paths.backupDir(database);
  const scheduled = (await listBackupFiles(dir)).filter((b) => b.kind === "scheduled");
  const candidates = await Promise.all(
    scheduled.map(async (b) => ({
      filename: b.filename,
      createdAt: stampToDate(b.created_at),
      verification: await verificationOf(database, b.filename),
    })),
  );
  const log = deps.logger.child({ database, operation: "retention" });
  const ahead = futureDated(candidates, deps.now());
  if (ahead) return pausedRetention(deps, database, candidates, ahead);
  const plan = planRetention(candidates, settings.retention, settings.timezone, written);
  for (const { filename } of plan.remove) {
    await rm(path.join(dir, filename), { force: true });
    await removeRecords(dir, filename);
    log.info({ filename }, "backup removed by retention");
    deps.events.emit({ type: "backup.deleted", database, filename, reason: "retention" });
  }
  log.info({ kept: plan.keep.length, removed: plan.remove.length }, "retention applied");
  return plan;
}

/** The clock is behind a kept backup: nothing is pruned, and the operator is told (log, event, last run, status). */
function pausedRetention(
  deps: ServiceDeps,
  database: string,
  candidates: { filename: string }[],
  ahead: { filename: string; createdAt: Date },
): RetentionOutcome {
  const now = deps.now();
  const days = Math.round((ahead.createdAt.getTime() - now.getTime()) / 86_400_000);
  const warning =
    `retention paused: ${ahead.filename} is dated ${ahead.createdAt.toISOString()}, ` +
    `${days > 0 ? `${days} day(s)` : "minutes"} ahead of this host's clock (${now.toISOString()}); ` +
    "no backup is removed until the clock is right";
  deps.logger.warn({ database, operation: "retention", filename: ahead.filename }, warning);
  deps.events.emit({ type: "retention.paused", database, filename: ahead.filename, warning });
  return {
    keep: candidates.map((c) => ({ filename: c.filename, reasons: ["retention paused"] })),
    remove: [],
    warning,
  };
}
