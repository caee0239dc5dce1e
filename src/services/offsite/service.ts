import type { S3Client } from "@aws-sdk/client-s3";
import { createS3Client } from "../../lib/s3-client.js";
import { listBackupFiles } from "../backup/files.js";
import type { ServiceDeps } from "../deps.js";
import type { ServiceEvent } from "../events/index.js";
import { recordedSha256, type Sha256Lookup } from "./checksum.js";
import { BackupGoneError, type CopyContext, copyBackup, deleteRemoteCopy, recordFailure } from "./copy.js";
import { removeFetchLeftovers } from "./fetch.js";
import { abortIncompleteUploads, putInstallMarker } from "./remote.js";
import { type OffsiteSettings, retryDelayMs } from "./settings.js";
import { readRecord, removeRecord, sidecarNames, tombstoneNames, writeRecord, writeTombstone } from "./sidecar.js";

type JobKind = "copy" | "delete";

interface Job {
  kind: JobKind;
  database: string;
  filename: string;
  dueAt: number;
  attempts: number;
  /** The last attempt failed because the store did not answer: retried as soon as another copy succeeds. */
  storeDown: boolean;
  /** Set after a checksum mismatch: the bytes changed, so only an explicit push tries again. */
  parked: boolean;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

export interface OffsiteServiceOptions {
  lookup?: Sha256Lookup;
  /** How often backups written by another process (the CLI) are picked up. */
  rescanMs?: number;
}

const id = (database: string, filename: string) => `${database}/${filename}`;

/**
 * The off-site copy queue: owns every copy and remote deletion as a job with its state on disk, so a restart
 * finds the same work. Created with the services, `start()`ed by the server only, `stop()`ped at shutdown.
 */
export class OffsiteService {
  readonly #jobs = new Map<string, Job>();
  readonly #running = new Map<string, Running>();
  readonly #chores = new Set<Promise<unknown>>();
  readonly #lookup: Sha256Lookup;
  readonly #rescanMs: number;
  #client: S3Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  #rescan: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #active = false;

  constructor(
    private readonly deps: ServiceDeps,
    readonly settings: OffsiteSettings,
    options: OffsiteServiceOptions = {},
  ) {
    this.#lookup = options.lookup ?? recordedSha256;
    this.#rescanMs = options.rescanMs ?? 60_000;
  }

  /** One client for the small control calls of the main thread; the uploads make their own in their worker. */
  get client(): S3Client {
    this.#client ??= createS3Client(this.settings.store);
    return this.#client;
  }

  get context(): CopyContext {
    return {
      deps: this.deps,
      settings: this.settings,
      client: this.client,
      lookup: this.#lookup,
      ensureMarker: () => this.#ensureMarker(),
    };
  }

  #marker: Promise<void> | undefined;

  /** The install's marker object, written once per process; a failed write is tried again by the next copy. */
  #ensureMarker(): Promise<void> {
    this.#marker ??= putInstallMarker(this.client, this.settings, this.deps.now().toISOString()).catch((error) => {
      this.#marker = undefined;
      throw error;
    });
    return this.#marker;
  }

  /** Subscribes to backup events and queues every backup whose copy is not done (start-up recovery). */
  async start(): Promise<void> {
    if (this.#active) return;
    this.#active = true;
    this.#unsubscribe = this.deps.events.on((event) => this.#onEvent(event));
    // A data dir the scan cannot read is logged, not fatal: the server serves, and the next rescan tries again.
    try {
      for (const database of this.deps.registry.names()) {
        await removeFetchLeftovers(this.deps.paths.backupDir(database));
      }
      await this.rescan();
    } catch (error) {
      this.deps.logger.error({ err: error, operation: "offsite" }, "off-site start-up scan failed");
    }
    this.#rescan = setInterval(() => this.#track(this.rescan()), this.#rescanMs);
    this.#rescan.unref();
  }

  /** Stops taking work; running uploads are stopped and their records left `uploading`, cleaned up on next start. */
  async stop(): Promise<void> {
    this.#active = false;
    this.#unsubscribe?.();
    clearTimeout(this.#timer);
    clearInterval(this.#rescan);
    for (const running of this.#running.values()) running.controller.abort();
    await Promise.allSettled([...[...this.#running.values()].map((r) => r.done), ...this.#chores]);
    this.#jobs.clear();
    this.#client?.destroy();
    this.#client = undefined;
  }

  /**
   * Queues every copy that is not done in one database (or all); due now, parked ones included. A failed one is
   * `pending` again at once, so whoever asked sees it move before the upload begins.
   */
  async push(database?: string): Promise<string[]> {
    const queued: string[] = [];
    for (const db of database ? [database] : this.deps.registry.names()) {
      const filenames = await this.#scan(db, { now: true });
      const dir = this.deps.paths.backupDir(db);
      for (const filename of filenames) {
        const record = await readRecord(dir, filename);
        if (record?.state === "failed" && !this.#running.has(id(db, filename))) {
          const { next_attempt_at: _next, error: _error, ...rest } = record;
          await writeRecord(dir, filename, { ...rest, state: "pending" });
        }
      }
      queued.push(...filenames);
    }
    this.#pump();
    return queued;
  }

  /**
   * One attempt at every copy not done in a database, awaited: the CLI's push, with no queue running. A failure
   * is recorded with its retry time as the server's queue would, and reported in the result.
   */
  async copyOnce(database: string): Promise<{ filename: string; state: "done" | "failed"; error?: string }[]> {
    const dir = this.deps.paths.backupDir(database);
    const results: { filename: string; state: "done" | "failed"; error?: string }[] = [];
    for (const { filename } of await listBackupFiles(dir)) {
      const record = await readRecord(dir, filename);
      if (record?.state === "done") continue;
      try {
        await copyBackup(this.context, database, filename, new AbortController().signal);
        results.push({ filename, state: "done" });
      } catch (error) {
        if (error instanceof BackupGoneError) continue;
        const retryAt = new Date(Date.now() + retryDelayMs(this.settings, (record?.attempts ?? 0) + 1));
        await recordFailure(this.context, database, filename, error as Error, retryAt);
        results.push({ filename, state: "failed", error: (error as Error).message });
      }
    }
    return results;
  }

  async rescan(): Promise<void> {
    await this.#scanAll(undefined, { now: false });
    this.#pump();
  }

  /** Resolves once no job is due or running (failed ones waiting for their retry do not count). */
  async idle(): Promise<void> {
    while (this.#running.size > 0 || this.#chores.size > 0 || this.#dueJob() !== undefined) {
      await Promise.allSettled([...[...this.#running.values()].map((r) => r.done), ...this.#chores]);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async #scanAll(only: string | undefined, options: { now: boolean }): Promise<string[]> {
    const queued: string[] = [];
    for (const database of only ? [only] : this.deps.registry.names()) {
      queued.push(...(await this.#scan(database, options)));
    }
    return queued;
  }

  /** Backups without a `done` record are queued, pruned backups' remote copies deleted, orphan records removed. */
  async #scan(database: string, options: { now: boolean }): Promise<string[]> {
    const dir = this.deps.paths.backupDir(database);
    const backups = await listBackupFiles(dir);
    const present = new Set(backups.map((b) => b.filename));
    const queued: string[] = [];
    for (const { filename } of backups) {
      const record = await readRecord(dir, filename);
      if (record?.state === "done") continue;
      const retryAt = record?.next_attempt_at ? Date.parse(record.next_attempt_at) : Date.now();
      this.#enqueue("copy", database, filename, options.now ? Date.now() : retryAt, options.now);
      queued.push(filename);
    }
    for (const filename of await tombstoneNames(dir)) {
      this.#enqueue("delete", database, filename, Date.now(), options.now);
    }
    for (const filename of await sidecarNames(dir)) {
      if (present.has(filename) || this.#running.has(id(database, filename))) continue;
      if (!this.#jobs.has(id(database, filename))) await removeRecord(dir, filename);
    }
    return queued;
  }

  #enqueue(kind: JobKind, database: string, filename: string, dueAt: number, force: boolean): void {
    const key = id(database, filename);
    const existing = this.#jobs.get(key);
    if (existing && existing.kind === kind) {
      if (force) Object.assign(existing, { dueAt: Math.min(existing.dueAt, dueAt), parked: false });
      return;
    }
    this.#jobs.set(key, { kind, database, filename, dueAt, attempts: 0, storeDown: false, parked: false });
  }

  #dueJob(now = Date.now()): Job | undefined {
    let due: Job | undefined;
    for (const [key, job] of this.#jobs) {
      if (job.parked || this.#running.has(key) || job.dueAt > now) continue;
      if (!due || job.dueAt < due.dueAt) due = job;
    }
    return due;
  }

  /** Starts due jobs up to the concurrency, then sleeps until the next one is due. */
  #pump(): void {
    clearTimeout(this.#timer);
    while (this.#running.size < this.settings.concurrency) {
      const job = this.#dueJob();
      if (!job) break;
      this.#startJob(job);
    }
    const waiting = [...this.#jobs.entries()].filter(([key, job]) => !job.parked && !this.#running.has(key));
    if (waiting.length === 0) return;
    const next = Math.min(...waiting.map(([, job]) => job.dueAt));
    this.#timer = setTimeout(() => this.#pump(), Math.max(0, next - Date.now()));
    this.#timer.unref();
  }

  #startJob(job: Job): void {
    const key = id(job.database, job.filename);
    const controller = new AbortController();
    const done = this.#runJob(job, controller.signal).finally(() => {
      this.#running.delete(key);
      if (this.#active) this.#pump();
    });
    this.#running.set(key, { controller, done });
  }

  async #runJob(job: Job, signal: AbortSignal): Promise<void> {
    const key = id(job.database, job.filename);
    try {
      if (job.kind === "copy") await copyBackup(this.context, job.database, job.filename, signal);
      else await deleteRemoteCopy(this.context, job.database, job.filename);
      if (this.#jobs.get(key) === job) this.#jobs.delete(key);
      this.#retryStoreDownJobs();
    } catch (error) {
      await this.#failed(job, error as Error, signal);
    }
  }

  async #failed(job: Job, error: Error, signal: AbortSignal): Promise<void> {
    const key = id(job.database, job.filename);
    if (signal.aborted || error.name === "AbortError") return;
    if (error instanceof BackupGoneError) {
      if (this.#jobs.get(key) === job) this.#jobs.delete(key);
      return;
    }
    job.attempts++;
    job.storeDown = (error as { code?: string }).code === "STORE_UNAVAILABLE";
    job.parked = (error as { details?: { reason?: string } }).details?.reason === "checksum_mismatch";
    job.dueAt = Date.now() + retryDelayMs(this.settings, job.attempts);
    if (job.kind === "delete") {
      this.deps.logger.warn(
        { database: job.database, filename: job.filename, error: error.message },
        "off-site delete failed",
      );
      return;
    }
    await recordFailure(this.context, job.database, job.filename, error, job.parked ? null : new Date(job.dueAt));
  }

  /** The store answered again: copies that failed only because it was down go now, not at their backoff. */
  #retryStoreDownJobs(): void {
    const now = Date.now();
    for (const job of this.#jobs.values()) {
      if (job.storeDown) Object.assign(job, { dueAt: now, storeDown: false });
    }
  }

  #onEvent(event: ServiceEvent): void {
    if (!this.#active) return;
    if (event.type === "backup.written") {
      this.#track(this.#afterWritten(event.database, event.filename));
    } else if (event.type === "backup.deleted") {
      this.#track(this.#afterDeleted(event.database, event.filename, event.reason));
    }
  }

  /**
   * A fetched backup is written with a `done` record first: it is already remote. Any other is copied once its
   * background verification has ended, so a fresh backup is read by one worker at a time (bench: copy memory).
   */
  async #afterWritten(database: string, filename: string): Promise<void> {
    const record = await readRecord(this.deps.paths.backupDir(database), filename);
    if (record?.state === "done") return;
    await this.deps.verifications.settled(database, filename);
    if (!this.#active) return;
    this.#enqueue("copy", database, filename, Date.now(), true);
    this.#pump();
  }

  /** Retention removes the remote copy too (through a tombstone that survives a restart); a user's delete does not. */
  async #afterDeleted(database: string, filename: string, reason: "user" | "retention"): Promise<void> {
    const key = id(database, filename);
    this.#jobs.delete(key);
    const running = this.#running.get(key);
    const dir = this.deps.paths.backupDir(database);
    if (running) {
      running.controller.abort();
      await running.done;
      const record = await readRecord(dir, filename);
      if (record?.key) {
        await abortIncompleteUploads(this.client, this.settings.store.bucket, record.key, this.deps.logger).catch(
          (error: Error) =>
            this.deps.logger.warn({ database, filename, error: error.message }, "could not abort upload"),
        );
      }
    }
    if (reason !== "retention") {
      await removeRecord(dir, filename);
      return;
    }
    const record = await readRecord(dir, filename);
    await writeTombstone(dir, filename, record?.key ? [record.key] : []);
    this.#enqueue("delete", database, filename, Date.now(), true);
    this.#pump();
  }

  /** Event-driven work is tracked, so `stop()` waits for it and nothing runs unowned. */
  #track(work: Promise<unknown>): void {
    const tracked = work
      .catch((error: unknown) =>
        this.deps.logger.error({ err: error, operation: "offsite" }, "off-site bookkeeping failed"),
      )
      .finally(() => this.#chores.delete(tracked));
    this.#chores.add(tracked);
  }
}
