import { setPriority } from "node:os";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { copyHashed, hashFile, tidySideFiles, validateAndHash, verifyFile } from "./backup-tasks.js";
import type { FetchArgs, UploadArgs } from "./offsite-tasks.js";
import {
  checkpointForSwap,
  copyDurably,
  copyForImport,
  migrateFile,
  prepareSwap,
  vacuumInto,
  validateBackup,
} from "./sqlite-tasks.js";

// The S3 SDK and the age cipher are loaded only by the workers that copy off-site, not by every backup's worker.
const offsiteTasks = () => import("./offsite-tasks.js");
const offsiteUpload = async (args: UploadArgs) => (await offsiteTasks()).offsiteUpload(args);
const offsiteFetch = async (args: FetchArgs) => (await offsiteTasks()).offsiteFetch(args);

const tasks = {
  vacuumInto,
  copyDurably,
  copyForImport,
  validateBackup,
  migrateFile,
  prepareSwap,
  checkpointForSwap,
  hashFile,
  copyHashed,
  validateAndHash,
  verifyFile,
  tidySideFiles,
  offsiteUpload,
  offsiteFetch,
} as const;

/**
 * Backups, copies and the preparation of a swap are background work: on a busy machine the app's writers
 * and the event loop (/verify) come first. Migrations are not: a restore runs them with its gate closed.
 * Linux keeps nice per thread, so this lowers only this worker; elsewhere it would nice the whole process.
 */
const WORKER_NICE = 10;
const background = new Set<keyof typeof tasks>([
  "vacuumInto",
  "copyDurably",
  "copyForImport",
  "validateBackup",
  "prepareSwap",
  "hashFile",
  "copyHashed",
  "validateAndHash",
  "tidySideFiles",
  "offsiteUpload",
  "offsiteFetch",
]);
/** Verification is the lowest: it only re-reads files that are already safe on disk. */
const VERIFY_NICE = 19;

/**
 * Background tasks run in pool threads niced to 10 (run.ts); the others get a fresh worker of their own:
 * nice cannot be raised again, and verification goes lower still.
 */
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

let currentNice = 0;

function lowerPriority(nice: number): void {
  if (nice <= currentNice || process.platform !== "linux") return;
  currentNice = nice;
  try {
    setPriority(nice);
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
  lowerPriority(task === "verifyFile" ? VERIFY_NICE : background.has(task) ? WORKER_NICE : 0);
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
