import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { copyHashed, hashFile, validateAndHash, verifyFile } from "./backup-tasks.js";
import type { FetchArgs, UploadArgs } from "./offsite-tasks.js";
import {
  checkpointForSwap,
  copyDurably,
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
  validateBackup,
  migrateFile,
  prepareSwap,
  checkpointForSwap,
  hashFile,
  copyHashed,
  validateAndHash,
  verifyFile,
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
  "validateBackup",
  "prepareSwap",
  "hashFile",
  "copyHashed",
  "validateAndHash",
  "offsiteUpload",
  "offsiteFetch",
]);
/** Verification is the lowest: it only re-reads files that are already safe on disk. */
const VERIFY_NICE = 19;

const { task, args } = workerData as { task: keyof typeof tasks; args: never };
const nice = task === "verifyFile" ? VERIFY_NICE : background.has(task) ? WORKER_NICE : 0;
if (nice > 0 && process.platform === "linux") {
  try {
    setPriority(nice);
  } catch {
    // Lowering one's own priority is always allowed; a sandbox refusing it costs only speed under load.
  }
}
try {
  // Off-site tasks are asynchronous (streams, network); awaiting a synchronous task's result changes nothing.
  const result = await tasks[task](args);
  parentPort?.postMessage({ ok: true, result });
} catch (error) {
  const e = error as NodeJS.ErrnoException & { details?: Record<string, unknown> };
  parentPort?.postMessage({ ok: false, error: { message: e.message, code: e.code, name: e.name, details: e.details } });
}
