import { setPriority } from "node:os";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { copyDurably, migrateFile, prepareSwap, vacuumInto, validateBackup } from "./sqlite-tasks.js";

const tasks = { vacuumInto, copyDurably, validateBackup, migrateFile, prepareSwap } as const;

/**
 * Backups, copies and the preparation of a swap are background work: on a busy machine the app's writers
 * and the event loop (/verify) come first. Migrations are not: a restore runs them with its gate closed.
 * Linux keeps nice per thread, so this lowers only this worker; elsewhere it would nice the whole process.
 */
const WORKER_NICE = 10;
const background = new Set<keyof typeof tasks>(["vacuumInto", "copyDurably", "validateBackup", "prepareSwap"]);

/** Background tasks run in niced pool threads; the others in a fresh worker (nice cannot be raised again). */
export function isBackgroundTask(task: string): boolean {
  return background.has(task as keyof typeof tasks);
}

export interface TaskRequest {
  task: keyof typeof tasks;
  args: never;
}

export interface WorkerReply {
  ok: boolean;
  result?: unknown;
  error?: { message: string; code?: string; name?: string; details?: Record<string, unknown> };
}

let niced = false;

function lowerPriority(): void {
  if (niced || process.platform !== "linux") return;
  niced = true;
  try {
    setPriority(WORKER_NICE);
  } catch {
    // Lowering one's own priority is always allowed; a sandbox refusing it costs only speed under load.
  }
}

/**
 * Runs one task; its error comes back as data (a thrown error would lose `code` and `details` on the way).
 * Every task closes the connections it opened before it returns, so nothing stays open once it settles.
 */
export default async function runInWorker({ task, args }: TaskRequest): Promise<WorkerReply> {
  if (isMainThread) throw new Error("worker tasks run in worker threads only");
  if (background.has(task)) lowerPriority();
  try {
    return { ok: true, result: await tasks[task](args) };
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { details?: Record<string, unknown> };
    return { ok: false, error: { message: e.message, code: e.code, name: e.name, details: e.details } };
  }
}

// A fresh worker (run.ts `freshWorker`) gets its task in workerData and exits when it is done.
const fresh = workerData as Partial<TaskRequest> | null;
if (!isMainThread && fresh?.task) {
  parentPort?.postMessage(await runInWorker(fresh as TaskRequest));
}
