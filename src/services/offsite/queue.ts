/**
 * The off-site job table as a pure policy: which copy or remote deletion runs next, and when a failed one is
 * tried again. No clock, no timers, no I/O: `now` is passed in and the backoff's jitter comes from `random`,
 * so the same calls give the same answers (test/offsite/queue.test.ts fuzzes it with a seeded PRNG).
 * The server's service and the CLI's one-shot push both drive it.
 */

export type JobKind = "copy" | "delete";

/**
 * How an attempt failed, which decides its next try: `store_down` goes again as soon as any job succeeds;
 * `checksum` is parked until an explicit push; `busy` (another process holds the copy's claim) comes back after
 * the base delay without counting an attempt; `held` (a remote deletion that must wait for a newer copy) goes
 * again after any copy succeeds; `other` backs off.
 */
export type FailureKind = "store_down" | "checksum" | "busy" | "held" | "other";

export interface Job {
  readonly kind: JobKind;
  readonly database: string;
  readonly filename: string;
  dueAt: number;
  attempts: number;
  /** Waits for the store (or, for a held deletion, a copy) to succeed again, whatever its backoff says. */
  wakeOnSuccess: boolean;
  /** Set after a checksum mismatch: the bytes changed, so only an explicit push tries again. */
  parked: boolean;
}

export interface QueuePolicy {
  concurrency: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** In [0, 1): the backoff's jitter. */
  random: () => number;
}

export const jobKey = (database: string, filename: string) => `${database}/${filename}`;

/** Exponential backoff from the base, capped, with up to 20 % jitter so many failed jobs do not retry in step. */
export function backoffMs(policy: QueuePolicy, attempts: number): number {
  const exponential = policy.retryBaseMs * 2 ** Math.max(0, attempts - 1);
  const capped = Math.min(policy.retryMaxMs, exponential);
  return Math.round(capped * (1 - 0.2 * policy.random()));
}

export class OffsiteQueue {
  readonly #jobs = new Map<string, Job>();
  /** Keys with an attempt in flight: one attempt per backup at a time, whichever job it belongs to. */
  readonly #running = new Set<string>();

  constructor(readonly policy: QueuePolicy) {}

  get(database: string, filename: string): Job | undefined {
    return this.#jobs.get(jobKey(database, filename));
  }

  isRunning(database: string, filename: string): boolean {
    return this.#running.has(jobKey(database, filename));
  }

  get runningCount(): number {
    return this.#running.size;
  }

  /**
   * Adds a job, or keeps the one of the same kind already there; `force` (a push, a fresh backup) makes it due
   * by `dueAt` at the latest and unparks it. A job of the other kind is replaced (a pruned backup's copy
   * becomes its deletion).
   */
  enqueue(kind: JobKind, database: string, filename: string, dueAt: number, force = false): Job {
    const key = jobKey(database, filename);
    const existing = this.#jobs.get(key);
    if (existing && existing.kind === kind) {
      if (force) Object.assign(existing, { dueAt: Math.min(existing.dueAt, dueAt), parked: false });
      return existing;
    }
    const job: Job = { kind, database, filename, dueAt, attempts: 0, wakeOnSuccess: false, parked: false };
    this.#jobs.set(key, job);
    return job;
  }

  /** Forgets a backup's job (its backup was deleted); an attempt in flight stays counted until it ends. */
  drop(database: string, filename: string): void {
    this.#jobs.delete(jobKey(database, filename));
  }

  /** The jobs to start now, earliest due first, up to the free slots; they count as running from here. */
  take(now: number): Job[] {
    const due = [...this.#jobs.entries()]
      .filter(([key, job]) => !job.parked && !this.#running.has(key) && job.dueAt <= now)
      .sort(([, a], [, b]) => a.dueAt - b.dueAt)
      .slice(0, Math.max(0, this.policy.concurrency - this.#running.size));
    for (const [key] of due) this.#running.add(key);
    return due.map(([, job]) => job);
  }

  /** The attempt worked: the job is done, and jobs waiting for the store (or for a copy) are due now. */
  success(job: Job, now: number): void {
    this.#end(job, true);
    for (const waiting of this.#jobs.values()) {
      if (waiting.wakeOnSuccess) Object.assign(waiting, { dueAt: Math.min(waiting.dueAt, now), wakeOnSuccess: false });
    }
  }

  /** The attempt failed: when the job is due again (null: parked until a push). */
  failure(job: Job, kind: FailureKind, now: number): number | null {
    this.#end(job, false);
    if (kind === "busy") {
      job.dueAt = now + this.policy.retryBaseMs;
      return job.dueAt;
    }
    job.attempts++;
    job.wakeOnSuccess = kind === "store_down" || kind === "held";
    job.parked = kind === "checksum";
    job.dueAt = now + backoffMs(this.policy, job.attempts);
    return job.parked ? null : job.dueAt;
  }

  /** The attempt was stopped (shutdown) or found nothing to do (the backup is gone): it leaves no trace. */
  abandon(job: Job, { forget }: { forget: boolean }): void {
    this.#end(job, forget);
  }

  /** When the next waiting job is due (undefined: none waits); the shell sleeps until then. */
  nextDue(): number | undefined {
    let next: number | undefined;
    for (const [key, job] of this.#jobs) {
      if (job.parked || this.#running.has(key)) continue;
      if (next === undefined || job.dueAt < next) next = job.dueAt;
    }
    return next;
  }

  /** True when nothing runs and nothing is due by `now` (failed jobs waiting for their retry do not count). */
  idle(now: number): boolean {
    return this.#running.size === 0 && (this.nextDue() ?? Number.POSITIVE_INFINITY) > now;
  }

  jobs(): Job[] {
    return [...this.#jobs.values()];
  }

  clear(): void {
    this.#jobs.clear();
    this.#running.clear();
  }

  #end(job: Job, remove: boolean): void {
    const key = jobKey(job.database, job.filename);
    this.#running.delete(key);
    if (remove && this.#jobs.get(key) === job) this.#jobs.delete(key);
  }
}

/** A backup as the remote-deletion rule sees it: its time and `_N` from its name. */
export interface BackupTime {
  filename: string;
  /** `YYYYMMDD_HHMMSS`, from its name. */
  createdAt: string;
  /** `auto_…_2.db` was written after `auto_….db` in the same second. */
  sequence: number;
}

export interface KeptBackup extends BackupTime {
  offsiteDone: boolean;
  verified: boolean;
}

/**
 * I2, off-site: a pruned backup's remote copy goes only while a newer backup kept here is verified and its
 * copy is `done`. While uploads fail and deletions succeed the bucket keeps what it has instead of draining,
 * and the newest verified backup that is safe off-site is never the one removed.
 */
export function mayDeleteRemoteCopy(pruned: BackupTime, kept: readonly KeptBackup[]): boolean {
  return kept.some(
    (backup) => backup.filename !== pruned.filename && isNewer(backup, pruned) && backup.offsiteDone && backup.verified,
  );
}

function isNewer(a: BackupTime, b: BackupTime): boolean {
  if (a.createdAt !== b.createdAt) return a.createdAt > b.createdAt;
  return a.sequence > b.sequence;
}
