import { existsSync } from "node:fs";
import path from "node:path";
import { systemClock } from "../../lib/clock.js";
import { lockFileIn } from "../../workers/backup-tasks.js";

import type { ServiceDeps } from "../deps.js";
import { msUntilSettled } from "./adoption.js";
import { listBackupFiles, parseBackupName, requireBackupFile } from "./files.js";
import { readRecord, updateRecord, type Verification } from "./records.js";

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/** Another process (the CLI) be verifying a large file; waiting longer than this leaves it pending. */
const LOCK_TIMEOUT_MS = 15 * 60 * 1000;

export interface VerifyOutcome {
  filename: string;
  sha256: string;
  verification: Verification;
}

/**
 * Re-reads the checksum and runs SQLite's check (quick after a write, full on request) in a niced worker
 * that holds the machine-wide verification lock; records and reports the outcome. A file never seen before
 * gets its checksum here.
 */
export async function runVerification(
  deps: ServiceDeps,
  database: string,
  filename: string,
  depth: "quick" | "full",
): Promise<VerifyOutcome> {
  const dir = deps.paths.backupDir(database);
  const file = path.join(dir, filename);
  const log = deps.logger.child({ database, operation: "verification", filename, depth });
  const started = performance.now();
  const record = await readRecord(dir, filename);
  // A file by hand still changing is checked for the caller but not adopted: nothing is recorded yet.
  const adopt = record !== null || (await msUntilSettled(deps, file)) === 0;
  log.info("verification started");
  const result = await deps.tasks.run("verifyFile", {
    file,
    expectedSha256: record?.sha256 ?? null,
    depth,
    lockFile: lockFileIn(deps.config.dataDir),
    lockTimeoutMs: LOCK_TIMEOUT_MS,
  });
  const verification: Verification = result.ok
    ? { state: "ok", at: deps.now().toISOString() }
    : { state: "failed", at: deps.now().toISOString(), error: result.error };
  const sha256 = record?.sha256 ?? result.sha256;
  if (!adopt) {
    log.info(
      { size: result.size, outcome: verification.state },
      "verified a file still being written; not adopted yet",
    );
    return { filename, sha256, verification };
  }
  await updateRecord(
    dir,
    filename,
    {
      sha256,
      size: record?.size ?? result.size,
      created_at: record?.created_at ?? parseBackupName(filename)?.createdAt ?? "",
      verification,
    },
    deps.fileOps,
  );
  const durationMs = Math.round(performance.now() - started);
  const outcome = result.ok ? "ok" : "failed";
  if (result.ok) log.info({ size: result.size, durationMs, outcome }, "verification finished");
  else log.warn({ size: result.size, durationMs, outcome, error: result.error }, "verification finished");
  deps.events.emit({
    type: "operation.finished",
    database,
    operation: "verification",
    outcome,
    filename,
    ...(result.error ? { error: result.error } : {}),
  });
  return { filename, sha256, verification };
}

/** `POST /backup/:f/verify`: the full check, answered whatever it finds (a corrupt file is a result, not an error). */
export async function verifyBackup(deps: ServiceDeps, database: string, filename: string): Promise<VerifyOutcome> {
  deps.registry.holder(database);
  requireBackupFile(deps.paths.backupDir(database), filename);
  return runVerification(deps, database, filename, "full");
}

interface Job {
  database: string;
  filename: string;
}

/**
 * Background verifications, one at a time (the worker's lock makes it one per machine), oldest request first.
 * Nothing runs until `start`: a CLI process leaves its new backups pending for the server to verify.
 */
export class VerificationQueue {
  readonly #jobs: Job[] = [];
  readonly #keys = new Set<string>();
  readonly #waiters = new Map<string, (() => void)[]>();
  /** Files by hand not settled yet: looked at again once they may have (their key stays in #keys). */
  readonly #deferred = new Map<string, NodeJS.Timeout>();
  #deps: ServiceDeps | null = null;
  #active: Promise<void> | null = null;
  #starting: Promise<void> | null = null;
  #reverify: NodeJS.Timeout | null = null;

  /** Begins verifying, first of all whatever an earlier run left pending or never saw; then re-verifies on schedule. */
  start(deps: ServiceDeps): Promise<void> {
    this.#deps = deps;
    this.#scheduleReverification(deps);
    this.#starting = (async () => {
      for (const database of deps.registry.names()) await enqueueUnverified(deps, database);
      this.#pump();
    })().finally(() => {
      this.#starting = null;
    });
    return this.#starting;
  }

  /**
   * A verified backup can still rot on disk: each one is checked again once its last check is older than
   * CHAOSCYPHER_REVERIFY_DAYS. Cheap by construction: the same queue, one file at a time in a niced worker,
   * files checked recently skipped. A sweep looks at most hourly (sooner when the interval is shorter).
   */
  #scheduleReverification(deps: ServiceDeps): void {
    const maxAgeMs = deps.config.reverifyDays * DAY_MS;
    if (maxAgeMs <= 0 || this.#reverify) return;
    this.#reverify = setInterval(
      () => {
        if (this.#jobs.length > 0 || this.#active) return; // still busy: the next sweep looks again
        void this.#sweep(deps, maxAgeMs);
      },
      Math.max(50, Math.min(maxAgeMs, HOUR_MS)),
    );
    this.#reverify.unref();
  }

  async #sweep(deps: ServiceDeps, maxAgeMs: number): Promise<void> {
    try {
      for (const database of deps.registry.names()) {
        for (const filename of await staleBackups(deps, database, maxAgeMs)) {
          if (this.#deps) this.enqueue(database, filename);
        }
      }
    } catch (err) {
      deps.logger.warn({ err, operation: "verification" }, "could not look for backups to verify again");
    }
  }

  enqueue(database: string, filename: string): void {
    const key = `${database}/${filename}`;
    if (this.#keys.has(key)) return;
    this.#keys.add(key);
    this.#jobs.push({ database, filename });
    this.#pump();
  }

  /** Resolves once `filename`'s queued or running verification has ended (at once when none will run here). */
  settled(database: string, filename: string): Promise<void> {
    const key = `${database}/${filename}`;
    if (!this.#deps || !this.#keys.has(key)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.set(key, [...(this.#waiters.get(key) ?? []), resolve]));
  }

  /** Resolves once nothing is queued, running or waiting for a file by hand to settle (tests, shutdown). */
  async idle(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    while (this.#active || this.#deferred.size > 0) {
      if (this.#active) await this.#active;
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Drops what is queued (it stays pending on disk) and waits for the running one. */
  async stop(): Promise<void> {
    this.#deps = null;
    if (this.#reverify) clearInterval(this.#reverify);
    this.#reverify = null;
    this.#jobs.length = 0;
    for (const timer of this.#deferred.values()) clearTimeout(timer);
    this.#deferred.clear();
    for (const key of this.#keys) this.#settle(key);
    await this.idle();
  }

  #pump(): void {
    const deps = this.#deps;
    if (!deps || this.#active) return;
    const job = this.#jobs.shift();
    if (!job) return;
    this.#active = this.#run(deps, job)
      .then((waitMs) => {
        if (waitMs !== null && this.#deps) this.#defer(job, waitMs);
        else this.#settle(`${job.database}/${job.filename}`);
      })
      .finally(() => {
        this.#active = null;
        this.#pump();
      });
  }

  #defer(job: Job, waitMs: number): void {
    const key = `${job.database}/${job.filename}`;
    const timer = (this.#deps?.clock ?? systemClock).setTimeout(() => {
      this.#deferred.delete(key);
      this.#jobs.push(job);
      this.#pump();
    }, waitMs + 10);
    timer.unref();
    this.#deferred.set(key, timer);
  }

  #settle(key: string): void {
    this.#keys.delete(key);
    for (const resolve of this.#waiters.get(key) ?? []) resolve();
    this.#waiters.delete(key);
  }

  /** Verifies one file; a file by hand that is still changing is left alone: how long to wait, else null. */
  async #run(deps: ServiceDeps, { database, filename }: Job): Promise<number | null> {
    const dir = deps.paths.backupDir(database);
    if (!existsSync(path.join(dir, filename))) return null;
    try {
      if (!(await readRecord(dir, filename))) {
        const waitMs = await msUntilSettled(deps, path.join(dir, filename));
        if (waitMs === null) return null;
        if (waitMs > 0) return waitMs;
      }
      await runVerification(deps, database, filename, "quick");
    } catch (err) {
      // Left pending: the next list or start-up queues it again.
      deps.logger.warn({ err, database, filename, operation: "verification" }, "background verification failed");
    }
    return null;
  }
}

/** Queues every backup of `database` that has no record yet (put there by hand) or is still pending. */
export async function enqueueUnverified(deps: ServiceDeps, database: string): Promise<void> {
  const dir = deps.paths.backupDir(database);
  for (const entry of await listBackupFiles(dir)) {
    const record = await readRecord(dir, entry.filename);
    if (!record || record.verification.state === "pending") deps.verifications.enqueue(database, entry.filename);
  }
}

/** Backups whose last finished verification is older than `maxAgeMs`, the longest unchecked first. */
export async function staleBackups(deps: ServiceDeps, database: string, maxAgeMs: number): Promise<string[]> {
  const dir = deps.paths.backupDir(database);
  const now = deps.now().getTime();
  const stale: { filename: string; at: number }[] = [];
  for (const entry of await listBackupFiles(dir)) {
    const verification = (await readRecord(dir, entry.filename))?.verification;
    const at = verification?.at ? Date.parse(verification.at) : Number.NaN;
    // Pending or unknown files are the start-up sweep's and the list's to queue.
    if (!verification || verification.state === "pending" || Number.isNaN(at)) continue;
    if (now - at >= maxAgeMs) stale.push({ filename: entry.filename, at });
  }
  return stale.sort((a, b) => a.at - b.at).map((s) => s.filename);
}
