import { setPriority } from "node:os";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { copyHashed, hashFile, tidySideFiles, validateAndHash, verifyFile } from "./backup-tasks.js";
import type { BlobGetArgs, BlobPutArgs, GcArgs, ManifestPutArgs } from "./blob-tasks.js";
import type { FetchArgs, UploadArgs } from "./offsite-tasks.js";
import type { BucketUsageArgs, PagesGcArgs, PagesRebuildArgs, PagesUploadArgs } from "./page-tasks.js";
import {
  checkpointForSwap,
  copyDurably,
  copyForImport,
  migrateFile,
  pageCopy,
  prepareSwap,
  vacuumInto,
  validateBackup,
} from "./sqlite-tasks.js";
import type { CaptureArgs, RestoreArgs } from "./uploads-tasks.js";

// The S3 SDK and the age cipher are loaded only by the workers that copy off-site, not by every backup's worker.
const offsiteTasks = () => import("./offsite-tasks.js");
const offsiteUpload = async (args: UploadArgs) => (await offsiteTasks()).offsiteUpload(args);
const offsiteFetch = async (args: FetchArgs) => (await offsiteTasks()).offsiteFetch(args);
const pageTasks = () => import("./page-tasks.js");
const offsitePagesUpload = async (args: PagesUploadArgs) => (await pageTasks()).offsitePagesUpload(args);
const offsitePagesRebuild = async (args: PagesRebuildArgs) => (await pageTasks()).offsitePagesRebuild(args);
const offsitePagesGc = async (args: PagesGcArgs) => (await pageTasks()).offsitePagesGc(args);
const offsiteBucketUsage = async (args: BucketUsageArgs) => (await pageTasks()).offsiteBucketUsage(args);
const blobTasks = () => import("./blob-tasks.js");
const blobPut = async (args: BlobPutArgs) => (await blobTasks()).blobPut(args);
const blobGet = async (args: BlobGetArgs) => (await blobTasks()).blobGet(args);
const manifestPut = async (args: ManifestPutArgs) => (await blobTasks()).manifestPut(args);
const uploadsTasks = () => import("./uploads-tasks.js");
const captureUploads = async (args: CaptureArgs) => (await uploadsTasks()).captureUploads(args);
const restoreUploads = async (args: RestoreArgs) => (await uploadsTasks()).restoreUploads(args);
const blobGc = async (args: GcArgs) => (await blobTasks()).collectBlobGarbage(args);

/**
 * Every task, in one table: its function, whether it runs in the shared pool, and its nice value. Background
 * work (backups, copies, the preparation of a swap) is niced to 10: on a busy machine the app's writers and the
 * event loop (/verify) come first. Migrations are not: a restore runs them with its gate closed, and nice cannot
 * be raised again, so they get a fresh worker. Verification is the lowest: it only re-reads files already safe.
 * Linux keeps nice per thread, so this lowers only the worker; elsewhere it would nice the whole process.
 * Adding a task is one entry here; run.ts takes its argument and result types from it.
 */
const background = <A, R>(run: (args: A) => R) => ({ run, pooled: true, nice: 10 }) as const;
const ownWorker = <A, R>(run: (args: A) => R, nice = 0) => ({ run, pooled: false, nice }) as const;

const tasks = {
  vacuumInto: background(vacuumInto),
  pageCopy: background(pageCopy),
  copyDurably: background(copyDurably),
  copyForImport: background(copyForImport),
  validateBackup: background(validateBackup),
  migrateFile: ownWorker(migrateFile),
  prepareSwap: background(prepareSwap),
  checkpointForSwap: ownWorker(checkpointForSwap),
  hashFile: background(hashFile),
  copyHashed: background(copyHashed),
  validateAndHash: background(validateAndHash),
  verifyFile: ownWorker(verifyFile, 19),
  tidySideFiles: background(tidySideFiles),
  offsiteUpload: background(offsiteUpload),
  offsiteFetch: background(offsiteFetch),
  offsitePagesUpload: background(offsitePagesUpload),
  offsitePagesRebuild: background(offsitePagesRebuild),
  offsitePagesGc: background(offsitePagesGc),
  offsiteBucketUsage: background(offsiteBucketUsage),
  blobPut: background(blobPut),
  blobGet: background(blobGet),
  blobGc: background(blobGc),
  manifestPut: background(manifestPut),
  captureUploads: background(captureUploads),
  restoreUploads: background(restoreUploads),
};

export type Tasks = typeof tasks;

/** Background tasks run in pool threads (run.ts); the others get a fresh worker of their own. */
export function isBackgroundTask(task: string): boolean {
  return tasks[task as keyof Tasks]?.pooled === true;
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
  const entry = tasks[task];
  lowerPriority(entry.nice);
  try {
    return { ok: true, result: await entry.run(args) };
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
