import { existsSync } from "node:fs";
import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { InvalidBackupError, StoreUnavailableError } from "../../errors.js";
import { createS3Client } from "../../lib/s3-client.js";
import { isSettledBackup } from "../backup/adoption.js";
import { listBackupFiles, parseBackupName } from "../backup/files.js";
import { readRecord as readBackupRecord } from "../backup/records.js";
import type { ServiceDeps } from "../deps.js";
import type { ServiceEvent } from "../events/index.js";
import { collectGarbage } from "./blobs.js";
import { recordedSha256, type Sha256Lookup } from "./checksum.js";
import { claimCopy, removeClaimFile, removeOrphanClaims } from "./claim.js";
import {
  BackupGoneError,
  CopyBusyError,
  type CopyContext,
  copyBackup,
  deleteRemoteCopy,
  recordFailure,
} from "./copy.js";
import { removeFetchLeftovers } from "./fetch.js";
import {
  type FailureKind,
  type Job,
  type JobKind,
  jobKey,
  type KeptBackup,
  mayDeleteRemoteCopy,
  OffsiteQueue,
  type QueuePolicy,
} from "./queue.js";
import { abortIncompleteUploads, putInstallMarker } from "./remote.js";
import type { OffsiteSettings } from "./settings.js";
import {
  readRecord,
  removeRecord,
  removeTombstone,
  sidecarNames,
  tombstoneNames,
  writeRecord,
  writeTombstone,
} from "./sidecar.js";

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

export interface OffsiteServiceOptions {
  lookup?: Sha256Lookup;
  /** How often backups written by another process (the CLI) are picked up. */
  rescanMs?: number;
}

export interface CopyOnceResult {
  filename: string;
  /** `busy`: another process (the server) is copying it right now; it is not uploaded twice. */
  state: "done" | "failed" | "busy";
  error?: string;
}

/** A pruned backup's remote copy waits: no newer backup kept here is verified and safe off-site yet. */
class DeletionHeldError extends Error {}

function failureKind(error: Error): FailureKind {
  if (error instanceof CopyBusyError) return "busy";
  if (error instanceof DeletionHeldError) return "held";
  if (error instanceof StoreUnavailableError) return "store_down";
  if (error instanceof InvalidBackupError && error.details?.reason === "checksum_mismatch") return "checksum";
  return "other";
}

/**
 * The I/O shell around the off-site job table (queue.ts): reads and writes the records on disk, runs the
 * uploads and deletions, and sleeps until the next job is due. Created with the services, `start()`ed by the
 * server only, `stop()`ped at shutdown; the CLI's one-shot push drives the same policy through `copyOnce`.
 */
export class OffsiteService {
  readonly #queue: OffsiteQueue;
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
    this.#queue = new OffsiteQueue(this.#policy(settings.concurrency));
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
        await removeFetchLeftovers(this.deps.paths.backupDir(database), this.deps.fileOps);
      }
      await this.rescan();
    } catch (error) {
      this.deps.logger.error({ err: error, operation: "offsite" }, "off-site start-up scan failed");
    }
    this.#rescan = this.deps.clock.setInterval(() => this.#track(this.rescan()), this.#rescanMs);
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
    this.#queue.clear();
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
        if (record?.state === "failed" && !this.#queue.isRunning(db, filename)) {
          const { next_attempt_at: _next, error: _error, reason: _reason, ...rest } = record;
          await writeRecord(dir, filename, { ...rest, state: "pending" });
        }
      }
      queued.push(...filenames);
    }
    this.#pump();
    return queued;
  }

  /**
   * One attempt at every copy not done in a database, awaited: the CLI's push, with no queue running, through
   * the same policy. A failure is recorded with its retry time as the server's queue would; a copy another
   * process is making is left to it (`busy`).
   */
  async copyOnce(database: string): Promise<CopyOnceResult[]> {
    const queue = new OffsiteQueue(this.#policy(1));
    const dir = this.deps.paths.backupDir(database);
    for (const { filename } of await listBackupFiles(dir)) {
      const record = await readRecord(dir, filename);
      if (record?.state === "done") continue;
      if (!(await isSettledBackup(this.deps, database, filename))) continue;
      queue.enqueue("copy", database, filename, this.deps.clock.now(), true).attempts = record?.attempts ?? 0;
    }
    const results = new Map<string, CopyOnceResult>();
    for (let [job] = queue.take(this.deps.clock.now()); job; [job] = queue.take(this.deps.clock.now())) {
      try {
        await copyBackup(this.context, database, job.filename, new AbortController().signal);
        queue.success(job, this.deps.clock.now());
        results.set(job.filename, { filename: job.filename, state: "done" });
      } catch (error) {
        if (error instanceof BackupGoneError) {
          queue.abandon(job, { forget: true });
          continue;
        }
        const kind = failureKind(error as Error);
        const retryAt = queue.failure(job, kind, this.deps.clock.now());
        const message = (error as Error).message;
        if (kind === "busy") {
          results.set(job.filename, { filename: job.filename, state: "busy", error: message });
          continue;
        }
        await recordFailure(this.context, database, job.filename, error as Error, retryAt ? new Date(retryAt) : null);
        results.set(job.filename, { filename: job.filename, state: "failed", error: message });
      }
    }
    await removeOrphanClaims(dir, new Set((await listBackupFiles(dir)).map((b) => b.filename)));
    return [...results.values()];
  }

  async rescan(): Promise<void> {
    await this.#scanAll(undefined, { now: false });
    this.#pump();
    if (this.#collectDue) this.collectSoon();
  }

  #collectDue = false;
  #collecting: Promise<void> | undefined;

  /**
   * Collects unreferenced blobs in the background after a manifest was deleted; one that could not run (a copy
   * holds the blob lock, the store is down, a manifest is unreadable) is tried again at the next rescan.
   */
  collectSoon(): void {
    this.#collectDue = true;
    if (this.#collecting) return;
    this.#collecting = this.#collect().finally(() => {
      this.#collecting = undefined;
    });
    this.#track(this.#collecting);
  }

  async #collect(): Promise<void> {
    this.#collectDue = false;
    try {
      const result = await collectGarbage(this.context);
      if ("busy" in result) this.#collectDue = true;
    } catch (error) {
      this.#collectDue = true;
      this.deps.logger.warn(
        { operation: "offsite_gc", error: (error as Error).message },
        "off-site blob collection deferred; nothing was deleted",
      );
    }
  }

  /** Resolves once no job is due or running (failed ones waiting for their retry do not count). */
  async idle(): Promise<void> {
    while (this.#running.size > 0 || this.#chores.size > 0 || !this.#queue.idle(this.deps.clock.now())) {
      await Promise.allSettled([...[...this.#running.values()].map((r) => r.done), ...this.#chores]);
      await this.deps.clock.sleep(10);
    }
  }

  #policy(concurrency: number): QueuePolicy {
    const { retryBaseMs, retryMaxMs } = this.settings;
    return { concurrency, retryBaseMs, retryMaxMs, random: this.deps.ids.random };
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
    const now = this.deps.clock.now();
    for (const { filename } of backups) {
      const record = await readRecord(dir, filename);
      if (record?.state === "done") continue;
      // A file copied in by hand is picked up once it has settled (a later rescan), never half-copied.
      if (!(await isSettledBackup(this.deps, database, filename))) continue;
      // A retry time written under a wall clock that has since stepped back would wait out the step (a day, say):
      // no backoff is longer than the cap, so none waits longer than that from now.
      const recorded = record?.next_attempt_at ? Date.parse(record.next_attempt_at) : now;
      const retryAt = Math.min(recorded, now + this.settings.retryMaxMs);
      this.#enqueue("copy", database, filename, options.now ? now : retryAt, options.now);
      queued.push(filename);
    }
    for (const filename of await tombstoneNames(dir)) {
      this.#enqueue("delete", database, filename, now, options.now);
    }
    for (const filename of await sidecarNames(dir)) {
      if (present.has(filename) || this.#queue.isRunning(database, filename)) continue;
      if (!this.#queue.get(database, filename)) await removeRecord(dir, filename);
    }
    await removeOrphanClaims(dir, present);
    return queued;
  }

  #enqueue(kind: JobKind, database: string, filename: string, dueAt: number, force: boolean): void {
    this.#queue.enqueue(kind, database, filename, dueAt, force);
  }

  /** Starts the jobs due, then sleeps until the next one is (the shell's only timer of the queue). */
  #pump(): void {
    clearTimeout(this.#timer);
    for (const job of this.#queue.take(this.deps.clock.now())) this.#startJob(job);
    const next = this.#queue.nextDue();
    if (next === undefined) return;
    // Re-checked at least every second: a wall clock that jumps must not make the queue sleep past due work.
    const wait = Math.min(1_000, Math.max(0, next - this.deps.clock.now()));
    this.#timer = this.deps.clock.setTimeout(() => this.#pump(), wait);
    this.#timer.unref();
  }

  #startJob(job: Job): void {
    const key = jobKey(job.database, job.filename);
    const controller = new AbortController();
    // A job's failure is the job's, never the process's: whatever escapes is logged, the queue goes on.
    const done = this.#runJob(job, controller.signal)
      .catch((error: unknown) => this.deps.logger.error({ err: error, operation: "offsite" }, "off-site job failed"))
      .finally(() => {
        this.#running.delete(key);
        if (this.#active) this.#pump();
      });
    this.#running.set(key, { controller, done });
  }

  async #runJob(job: Job, signal: AbortSignal): Promise<void> {
    try {
      if (job.kind === "copy") await copyBackup(this.context, job.database, job.filename, signal);
      else await this.#deleteRemote(job);
      this.#queue.success(job, this.deps.clock.now());
      if (job.kind === "delete") this.collectSoon();
    } catch (error) {
      await this.#failed(job, error as Error, signal);
    }
  }

  /** A pruned backup's remote copy, under its claim, once the rule allows it. */
  async #deleteRemote(job: Job): Promise<void> {
    const dir = this.deps.paths.backupDir(job.database);
    const claim = claimCopy(dir, job.filename);
    if (!claim) throw new CopyBusyError(`backup "${job.filename}" is being copied by another process`);
    try {
      // Fetched back since retention pruned it: the backup is kept here again and its record may say done (I2),
      // so its remote copy stays and the deletion is dropped.
      if (existsSync(path.join(dir, job.filename))) {
        await removeTombstone(dir, job.filename);
        this.deps.logger.info(
          { database: job.database, filename: job.filename, operation: "offsite" },
          "remote copy of a pruned backup kept: the backup is here again",
        );
        return;
      }
      const parsed = parseBackupName(job.filename);
      const pruned = { filename: job.filename, createdAt: parsed?.createdAt ?? "", sequence: parsed?.sequence ?? 0 };
      if (!mayDeleteRemoteCopy(pruned, await this.#keptBackups(job.database))) {
        throw new DeletionHeldError("no newer backup kept here is verified and copied off-site yet");
      }
      await deleteRemoteCopy(this.context, job.database, job.filename);
      await removeClaimFile(dir, job.filename);
    } finally {
      claim.release();
    }
  }

  async #keptBackups(database: string): Promise<KeptBackup[]> {
    const dir = this.deps.paths.backupDir(database);
    const kept: KeptBackup[] = [];
    for (const { filename, created_at } of await listBackupFiles(dir)) {
      kept.push({
        filename,
        createdAt: created_at,
        sequence: parseBackupName(filename)?.sequence ?? 0,
        offsiteDone: (await readRecord(dir, filename))?.state === "done",
        verified: (await readBackupRecord(dir, filename))?.verification?.state === "ok",
      });
    }
    return kept;
  }

  async #failed(job: Job, error: Error, signal: AbortSignal): Promise<void> {
    if (signal.aborted || error.name === "AbortError") {
      this.#queue.abandon(job, { forget: false });
      return;
    }
    if (error instanceof BackupGoneError) {
      this.#queue.abandon(job, { forget: true });
      return;
    }
    const kind = failureKind(error);
    const retryAt = this.#queue.failure(job, kind, this.deps.clock.now());
    const about = { database: job.database, filename: job.filename, error: error.message };
    if (kind === "busy") {
      this.deps.logger.info(about, "off-site job waits: another process holds this backup's copy claim");
    } else if (kind === "held") {
      this.deps.logger.info(about, "remote copy of a pruned backup kept for now");
    } else if (job.kind === "delete") {
      this.deps.logger.warn(about, "off-site delete failed");
    } else {
      await recordFailure(this.context, job.database, job.filename, error, retryAt ? new Date(retryAt) : null);
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
    this.#enqueue("copy", database, filename, this.deps.clock.now(), true);
    this.#pump();
  }

  /**
   * Retention removes the remote copy too (through a tombstone that survives a restart, once the rule of
   * `mayDeleteRemoteCopy` allows it); a user's delete does not.
   */
  async #afterDeleted(database: string, filename: string, reason: "user" | "retention"): Promise<void> {
    this.#queue.drop(database, filename);
    const running = this.#running.get(jobKey(database, filename));
    const dir = this.deps.paths.backupDir(database);
    if (running) {
      running.controller.abort();
      await running.done;
      await this.#abortOwnUpload(database, filename);
    }
    if (reason !== "retention") {
      await removeRecord(dir, filename);
      return;
    }
    const record = await readRecord(dir, filename);
    await writeTombstone(dir, filename, record?.key ? [record.key] : []);
    this.#enqueue("delete", database, filename, this.deps.clock.now(), true);
    this.#pump();
  }

  /** The multipart upload this process just stopped; under the claim, so none a live process sends is aborted. */
  async #abortOwnUpload(database: string, filename: string): Promise<void> {
    const dir = this.deps.paths.backupDir(database);
    const claim = claimCopy(dir, filename);
    if (!claim) return;
    try {
      const record = await readRecord(dir, filename);
      if (record?.key)
        await abortIncompleteUploads(this.client, this.settings.store.bucket, record.key, this.deps.logger);
    } catch (error) {
      this.deps.logger.warn({ database, filename, error: (error as Error).message }, "could not abort upload");
    } finally {
      claim.release();
    }
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
