import { BACKUP_FILENAME } from "../../lib/names.js";
import type { VerificationState } from "../backup/records.js";
import { bucketKey } from "./buckets.js";
import { RETENTION_RULES, type Retention, type RetentionRule } from "./settings.js";

export interface RetentionCandidate {
  filename: string;
  createdAt: Date;
  verification: VerificationState;
}

export interface RetentionDecision {
  filename: string;
  /** Why it stays, e.g. `daily 2026-11-29`, `last 1`, `newest verified backup`; empty when removed. */
  reasons: string[];
}

export interface RetentionPlan {
  keep: RetentionDecision[];
  remove: RetentionDecision[];
}

const LABEL: Record<RetentionRule, string> = {
  keep_last: "last",
  keep_hourly: "hourly",
  keep_daily: "daily",
  keep_weekly: "weekly",
  keep_monthly: "monthly",
  keep_yearly: "yearly",
};

/** `auto_..._2.db` was written after `auto_..._1.db` in the same second. */
function sequence(filename: string): number {
  return Number(BACKUP_FILENAME.exec(filename)?.[4] ?? 0);
}

/** Newest first; ties in one second are broken by the `_N` suffix, then the name, so the order is total. */
export function newestFirst<T extends { filename: string; createdAt: Date }>(backups: readonly T[]): T[] {
  return [...backups].sort(
    (a, b) =>
      b.createdAt.getTime() - a.createdAt.getTime() ||
      sequence(b.filename) - sequence(a.filename) ||
      b.filename.localeCompare(a.filename),
  );
}

/**
 * restic `forget` over scheduled backups: each rule walks the backups newest first and keeps the newest one
 * of each of its next `n` buckets (hour, day, ISO week, month, year in `timeZone`; `keep_last` counts backups).
 * A backup is kept when any rule keeps it. The newest verified backup is always kept (and, while none is
 * verified, the newest pending one): a new backup still being verified must not cost the last known-good one.
 * Pure: no clock, no disk.
 */
export function planRetention(
  backups: readonly RetentionCandidate[],
  retention: Retention,
  timeZone: string,
  written?: string,
): RetentionPlan {
  const ordered = newestFirst(backups);
  const reasons = new Map(ordered.map((b) => [b.filename, [] as string[]]));
  for (const rule of RETENTION_RULES) {
    let remaining = retention[rule] ?? 0;
    let last: string | null = null;
    for (const [index, backup] of ordered.entries()) {
      if (remaining <= 0) break;
      const key = rule === "keep_last" ? String(index + 1) : bucketKey(rule, backup.createdAt, timeZone);
      if (key === last) continue;
      last = key;
      remaining--;
      reasons.get(backup.filename)?.push(`${LABEL[rule]} ${key}`);
    }
  }
  const newestVerified = ordered.find((b) => b.verification === "ok");
  const newestPending = ordered.find((b) => b.verification === "pending");
  if (newestVerified) reasons.get(newestVerified.filename)?.push("newest verified backup");
  else if (newestPending) reasons.get(newestPending.filename)?.push("newest pending backup");
  // A run never removes what it wrote (I2): with the clock behind, the new backup sorts oldest of all.
  if (written) reasons.get(written)?.push("written by this run");
  const plan: RetentionPlan = { keep: [], remove: [] };
  for (const backup of ordered) {
    const why = reasons.get(backup.filename) ?? [];
    (why.length > 0 ? plan.keep : plan.remove).push({ filename: backup.filename, reasons: why });
  }
  return plan;
}

/** How far ahead of this host's clock a backup's time may be before retention stops trusting the clock. */
export const FUTURE_TOLERANCE_MS = 15 * 60 * 1000;

/**
 * The newest backup dated later than `now` plus the tolerance, or null. While one exists the clock is behind
 * (a board without a real-time clock, a VM resumed from a snapshot, copies from a host whose clock ran
 * ahead): the buckets would rank the new backups oldest and prune them, so retention does not prune at all.
 */
export function futureDated<T extends { filename: string; createdAt: Date }>(
  backups: readonly T[],
  now: Date,
  toleranceMs = FUTURE_TOLERANCE_MS,
): T | null {
  const [newest] = newestFirst(backups);
  return newest && newest.createdAt.getTime() > now.getTime() + toleranceMs ? newest : null;
}
