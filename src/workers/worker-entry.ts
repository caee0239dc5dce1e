import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import type { FetchArgs, UploadArgs } from "./offsite-tasks.js";
import { copyDurably, migrateFile, prepareSwap, vacuumInto, validateBackup } from "./sqlite-tasks.js";

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
  "offsiteUpload",
  "offsiteFetch",
]);

const { task, args } = workerData as { task: keyof typeof tasks; args: never };
if (background.has(task) && process.platform === "linux") {
  try {
    setPriority(WORKER_NICE);
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
