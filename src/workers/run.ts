import { availableParallelism } from "node:os";
import { type ResourceLimits, Worker } from "node:worker_threads";
import Tinypool from "tinypool";
import { ShuttingDownError } from "../errors.js";
import type { CopyHashedArgs, HashResult, VerifyArgs, VerifyResult } from "./backup-tasks.js";
import type { FetchArgs, FetchResult, UploadArgs, UploadResult } from "./offsite-tasks.js";
import type {
  CheckpointArgs,
  CopyArgs,
  MigrateArgs,
  PrepareSwapArgs,
  VacuumArgs,
  ValidateArgs,
  ValidationResult,
} from "./sqlite-tasks.js";
import { isBackgroundTask, type WorkerReply } from "./worker-entry.js";

interface TaskTypes {
  vacuumInto: { args: VacuumArgs; result: { size: number; sha256: string } };
  copyDurably: { args: CopyArgs; result: undefined };
  copyForImport: { args: CopyArgs; result: { throughSqlite: boolean } };
  validateBackup: { args: ValidateArgs; result: ValidationResult };
  prepareSwap: { args: PrepareSwapArgs; result: { walTruncated: boolean } };
  migrateFile: { args: MigrateArgs; result: { applied: string[] } };
  checkpointForSwap: { args: CheckpointArgs; result: { walTruncated: boolean } };
  hashFile: { args: { file: string }; result: HashResult };
  copyHashed: { args: CopyHashedArgs; result: HashResult };
  validateAndHash: { args: ValidateArgs; result: ValidationResult & Partial<HashResult> };
  verifyFile: { args: VerifyArgs; result: VerifyResult };
  tidySideFiles: { args: { file: string }; result: { removed: boolean } };
  offsiteUpload: { args: UploadArgs; result: UploadResult };
  offsiteFetch: { args: FetchArgs; result: FetchResult };
}

export type TaskName = keyof TaskTypes;

export class WorkerTaskError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    /** Structured facts the task attached to its error (e.g. which migration failed). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Built code (dist/) starts the compiled entry; sources (vitest, tsx) go through a loader bootstrap. */
const fromSources = import.meta.url.endsWith(".ts");
const workerFile = new URL(fromSources ? "./bootstrap.mjs" : "./worker-entry.js", import.meta.url);

/**
 * Background tasks share a few warm threads: a fresh worker costs ~70 ms of start-up (bench: workers), most
 * of a small backup. Threads are niced once and leave after a minute idle, so an idle server holds none.
 * Enough threads that a restore's validation does not queue behind backups of other databases.
 */
let pool: Tinypool | null = null;
const POOL_IDLE_MS = 60_000;
const POOL_THREADS = Math.max(4, availableParallelism());

function backgroundPool(): Tinypool {
  pool ??= new Tinypool({
    filename: workerFile.href,
    minThreads: 0,
    maxThreads: POOL_THREADS,
    idleTimeout: POOL_IDLE_MS,
  });
  return pool;
}

const freshWorkers = new Set<Worker>();

function unwrap<T>(reply: WorkerReply): T {
  if (reply.ok) return reply.result as T;
  const error = reply.error;
  throw new WorkerTaskError(error?.message ?? "worker task failed", error?.code, error?.details);
}

export interface TaskOptions {
  /** Aborting terminates the worker (a shutdown stopping an upload); the promise rejects with an AbortError. */
  signal?: AbortSignal;
  /** V8 limits for the worker; a small young generation keeps a streaming task's garbage from piling up. */
  resourceLimits?: ResourceLimits;
}

/** Set for good by stopWorkers: a task cut off by shutdown says so instead of looking like a crash. */
let stopping = false;

/**
 * Runs one task off the event loop; its SQLite connection is closed by the time the promise settles.
 * Background tasks go to the pool; a task with options (an abort signal, limits) gets a worker of its own.
 */
export async function runTask<T extends TaskName>(
  task: T,
  args: TaskTypes[T]["args"],
  options: TaskOptions = {},
): Promise<TaskTypes[T]["result"]> {
  if (stopping) throw new ShuttingDownError();
  const pooled = isBackgroundTask(task) && !options.signal && !options.resourceLimits;
  try {
    if (pooled) return unwrap(await backgroundPool().run({ task, args }));
    return unwrap(await freshWorker(task, args, options));
  } catch (error) {
    const aborted = (error as Error).name === "AbortError";
    const cutOff = stopping && !aborted && !(error instanceof WorkerTaskError && error.code);
    throw cutOff ? new ShuttingDownError() : error;
  }
}

/** A worker of its own: never niced for migrations (they run while a restore's gate is closed). */
function freshWorker(task: TaskName, args: unknown, options: TaskOptions): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(abortError(task));
    const worker = new Worker(workerFile, {
      workerData: { task, args },
      execArgv: [],
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
    });
    freshWorkers.add(worker);
    let reply: WorkerReply | undefined;
    let failure: Error | undefined;
    const onAbort = () => {
      failure = abortError(task);
      void worker.terminate();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    worker.once("message", (message: WorkerReply) => {
      reply = message;
    });
    worker.once("error", (error) => {
      failure = error;
    });
    // Settle on exit, not on the message, so the worker's connection is surely closed by then.
    worker.once("exit", (code) => {
      freshWorkers.delete(worker);
      options.signal?.removeEventListener("abort", onAbort);
      if (options.signal?.aborted) reject(abortError(task));
      else if (reply) resolve(reply);
      else reject(failure ?? new WorkerTaskError(`worker for ${task} exited with code ${code}`));
    });
  });
}

/**
 * Ends every worker, for good (shutdown): a running task is cut off at its next JavaScript step (a native VACUUM
 * finishes its statement first) and its promise rejects, so its caller removes what it left behind.
 */
export async function stopWorkers(): Promise<void> {
  stopping = true;
  const destroyed = pool?.destroy();
  pool = null;
  await Promise.all([destroyed, ...[...freshWorkers].map((worker) => worker.terminate())]);
}

function abortError(task: string): Error {
  return Object.assign(new Error(`${task} was stopped`), { name: "AbortError" });
}
