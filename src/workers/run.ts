import { type ResourceLimits, Worker } from "node:worker_threads";
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

interface WorkerReply {
  ok: boolean;
  result?: unknown;
  error?: { message: string; code?: string; details?: Record<string, unknown> };
}

const bootstrap = new URL("./bootstrap.mjs", import.meta.url);

export interface TaskOptions {
  /** Aborting terminates the worker (a shutdown stopping an upload); the promise rejects with an AbortError. */
  signal?: AbortSignal;
  /** V8 limits for the worker; a small young generation keeps a streaming task's garbage from piling up. */
  resourceLimits?: ResourceLimits;
}

/** Runs one task in a fresh worker thread, so its SQLite connection is gone when the promise settles. */
export function runTask<T extends TaskName>(
  task: T,
  args: TaskTypes[T]["args"],
  options: TaskOptions = {},
): Promise<TaskTypes[T]["result"]> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(abortError(task));
    const worker = new Worker(bootstrap, {
      workerData: { task, args },
      execArgv: [],
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
    });
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
      options.signal?.removeEventListener("abort", onAbort);
      const error = reply?.error;
      if (options.signal?.aborted) reject(abortError(task));
      else if (reply?.ok) resolve(reply.result as TaskTypes[T]["result"]);
      else if (reply) reject(new WorkerTaskError(error?.message ?? "worker task failed", error?.code, error?.details));
      else reject(failure ?? new WorkerTaskError(`worker for ${task} exited with code ${code}`));
    });
  });
}

function abortError(task: string): Error {
  return Object.assign(new Error(`${task} was stopped`), { name: "AbortError" });
}
