import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import Tinypool from "tinypool";
import { ShuttingDownError } from "../errors.js";
import type { CopyHashedArgs, HashResult, VerifyArgs, VerifyResult } from "./backup-tasks.js";
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
  validateBackup: { args: ValidateArgs; result: ValidationResult };
  prepareSwap: { args: PrepareSwapArgs; result: { walTruncated: boolean } };
  migrateFile: { args: MigrateArgs; result: { applied: string[] } };
  checkpointForSwap: { args: CheckpointArgs; result: { walTruncated: boolean } };
  hashFile: { args: { file: string }; result: HashResult };
  copyHashed: { args: CopyHashedArgs; result: HashResult };
  validateAndHash: { args: ValidateArgs; result: ValidationResult & Partial<HashResult> };
  verifyFile: { args: VerifyArgs; result: VerifyResult };
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

/** Set for good by stopWorkers: a task cut off by shutdown says so instead of looking like a crash. */
let stopping = false;

/** Runs one task off the event loop; its SQLite connection is closed by the time the promise settles. */
export async function runTask<T extends TaskName>(
  task: T,
  args: TaskTypes[T]["args"],
): Promise<TaskTypes[T]["result"]> {
  if (stopping) throw new ShuttingDownError();
  try {
    if (isBackgroundTask(task)) return unwrap(await backgroundPool().run({ task, args }));
    return unwrap(await freshWorker(task, args));
  } catch (error) {
    throw stopping && !(error instanceof WorkerTaskError && error.code) ? new ShuttingDownError() : error;
  }
}

/** A worker of its own, never niced: migrations run while a restore's gate is closed. */
function freshWorker(task: TaskName, args: unknown): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerFile, { workerData: { task, args }, execArgv: [] });
    freshWorkers.add(worker);
    let reply: WorkerReply | undefined;
    let failure: Error | undefined;
    worker.once("message", (message: WorkerReply) => {
      reply = message;
    });
    worker.once("error", (error) => {
      failure = error;
    });
    // Settle on exit, not on the message, so the worker's connection is surely closed by then.
    worker.once("exit", (code) => {
      freshWorkers.delete(worker);
      if (reply) resolve(reply);
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
