import { availableParallelism } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { type ResourceLimits, Worker } from "node:worker_threads";
import Tinypool from "tinypool";
import {
  ConflictError,
  InvalidBackupError,
  NotFoundError,
  ShuttingDownError,
  StoreUnavailableError,
} from "../errors.js";
import { isBackgroundTask, type Tasks, type WorkerReply } from "./worker-entry.js";

/** Every task's argument and result types come from the one table of tasks (worker-entry.ts). */
export type TaskName = keyof Tasks & string;
export type TaskArgs<T extends TaskName> = Parameters<Tasks[T]["run"]>[0];
export type TaskResult<T extends TaskName> = Awaited<ReturnType<Tasks[T]["run"]>>;

/** The failures a task reports on purpose (offsite-tasks.ts `TaskFailure`); each maps to one service error. */
export const TASK_FAILURE_CODES = [
  "STORE_UNAVAILABLE",
  "CHECKSUM_MISMATCH",
  "NOT_FOUND",
  "NO_IDENTITY",
  "INVALID_COPY",
] as const;
export type TaskFailureCode = (typeof TASK_FAILURE_CODES)[number];

/**
 * A worker error's code: a task's own failure, or the errno (`ENOENT`, `ENOSPC`: a full disk is recognised by
 * it) or SQLite code (`SQLITE_CORRUPT`) of a system error that reached the task. Anything else has none.
 */
export type WorkerErrorCode = TaskFailureCode | `E${string}` | `SQLITE_${string}`;

function workerErrorCode(code: unknown): WorkerErrorCode | undefined {
  if (typeof code !== "string") return undefined;
  const known = (TASK_FAILURE_CODES as readonly string[]).includes(code) || /^(E[A-Z_]+|SQLITE_\w+)$/.test(code);
  return known ? (code as WorkerErrorCode) : undefined;
}

export class WorkerTaskError extends Error {
  constructor(
    message: string,
    readonly code?: WorkerErrorCode,
    /** Structured facts the task attached to its error (e.g. which migration failed). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "WorkerTaskError";
  }
}

/**
 * The one mapping of worker failures to the service errors a client sees; `messages` lets a caller say one in
 * its own words. A system error (errno, SQLite) comes back as it is: the transports map a full disk to 507.
 */
export function serviceErrorOf(error: unknown, messages: Partial<Record<TaskFailureCode, string>> = {}): Error {
  if (!(error instanceof WorkerTaskError) || !error.code) return error as Error;
  if (!(TASK_FAILURE_CODES as readonly string[]).includes(error.code)) return error;
  const code = error.code as TaskFailureCode;
  const message = messages[code] ?? error.message;
  switch (code) {
    case "STORE_UNAVAILABLE":
      return new StoreUnavailableError(message, error.details);
    case "CHECKSUM_MISMATCH":
      return new InvalidBackupError(message, { reason: "checksum_mismatch", ...error.details });
    case "NOT_FOUND":
      return new NotFoundError(message);
    case "NO_IDENTITY":
      return new ConflictError(message);
    case "INVALID_COPY":
      return new InvalidBackupError(message, error.details);
  }
}

/**
 * Built code (dist/) starts the compiled entry; sources (vitest, tsx) go through a loader bootstrap, unless the
 * test suite transpiled them once for its run (test/setup/build-sources.ts): a worker then starts ~4× sooner.
 */
const fromSources = import.meta.url.endsWith(".ts");
const suiteBuild = fromSources ? process.env.CHAOSCYPHER_TEST_BUILD : undefined;
const workerFile = suiteBuild
  ? pathToFileURL(path.join(suiteBuild, "workers/worker-entry.js"))
  : new URL(fromSources ? "./bootstrap.mjs" : "./worker-entry.js", import.meta.url);

const POOL_IDLE_MS = 60_000;
const POOL_THREADS = Math.max(4, availableParallelism());

function unwrap<T>(reply: WorkerReply): T {
  if (reply.ok) return reply.result as T;
  const error = reply.error;
  throw new WorkerTaskError(error?.message ?? "worker task failed", workerErrorCode(error?.code), error?.details);
}

export interface TaskOptions {
  /** Aborting terminates the worker (a shutdown stopping an upload); the promise rejects with an AbortError. */
  signal?: AbortSignal;
  /** V8 limits for the worker; a small young generation keeps a streaming task's garbage from piling up. */
  resourceLimits?: ResourceLimits;
}

/**
 * The worker threads of one process (`deps.tasks`): built with the services, stopped at shutdown, so a test
 * can stop one "process" and start another in the same run. Background tasks share a few warm threads: a fresh
 * worker costs ~70 ms of start-up (bench: workers), most of a small backup. Threads are niced once and leave
 * after a minute idle, so an idle server holds none; enough of them that a restore's validation does not
 * queue behind backups of other databases.
 */
export class TaskRunner {
  #pool: Tinypool | null = null;
  readonly #fresh = new Set<Worker>();
  /** Set for good by stop(): a task cut off by shutdown says so instead of looking like a crash. */
  #stopping = false;

  /**
   * Runs one task off the event loop; its SQLite connection is closed by the time the promise settles.
   * Background tasks go to the pool; a task with options (an abort signal, limits) gets a worker of its own.
   */
  async run<T extends TaskName>(task: T, args: TaskArgs<T>, options: TaskOptions = {}): Promise<TaskResult<T>> {
    if (this.#stopping) throw new ShuttingDownError();
    const pooled = isBackgroundTask(task) && !options.signal && !options.resourceLimits;
    try {
      if (pooled) return unwrap<TaskResult<T>>(await this.#backgroundPool().run({ task, args }));
      return unwrap<TaskResult<T>>(await this.#freshWorker(task, args, options));
    } catch (error) {
      const aborted = (error as Error).name === "AbortError";
      const cutOff = this.#stopping && !aborted && !(error instanceof WorkerTaskError && error.code);
      throw cutOff ? new ShuttingDownError() : error;
    }
  }

  /**
   * Ends every worker, for good (shutdown): a running task is cut off at its next JavaScript step (a native
   * VACUUM finishes its statement first) and its promise rejects, so its caller removes what it left behind.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    const destroyed = this.#pool?.destroy();
    this.#pool = null;
    await Promise.all([destroyed, ...[...this.#fresh].map((worker) => worker.terminate())]);
  }

  #backgroundPool(): Tinypool {
    this.#pool ??= new Tinypool({
      filename: workerFile.href,
      minThreads: 0,
      maxThreads: POOL_THREADS,
      idleTimeout: POOL_IDLE_MS,
    });
    return this.#pool;
  }

  /** A worker of its own: never niced for migrations (they run while a restore's gate is closed). */
  #freshWorker(task: TaskName, args: unknown, options: TaskOptions): Promise<WorkerReply> {
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) return reject(abortError(task));
      const worker = new Worker(workerFile, {
        workerData: { task, args },
        execArgv: [],
        ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
      });
      this.#fresh.add(worker);
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
        this.#fresh.delete(worker);
        options.signal?.removeEventListener("abort", onAbort);
        if (options.signal?.aborted) reject(abortError(task));
        else if (reply) resolve(reply);
        else reject(failure ?? new WorkerTaskError(`worker for ${task} exited with code ${code}`));
      });
    });
  }
}

function abortError(task: string): Error {
  return Object.assign(new Error(`${task} was stopped`), { name: "AbortError" });
}
