import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { copyDurably, prepareSwap, vacuumInto, validateBackup } from "./sqlite-tasks.js";

const tasks = { vacuumInto, copyDurably, validateBackup, prepareSwap } as const;

/**
 * Backups and copies are background work: on a busy machine the app's writers and the event loop (/verify)
 * come first. Linux keeps nice per thread, so this lowers only this worker; elsewhere it would nice the process.
 */
export const WORKER_NICE = 10;
if (process.platform === "linux") {
  try {
    setPriority(WORKER_NICE);
  } catch {
    // Lowering one's own priority is always allowed; a sandbox refusing it costs only speed under load.
  }
}

const { task, args } = workerData as { task: keyof typeof tasks; args: never };
try {
  const result = tasks[task](args);
  parentPort?.postMessage({ ok: true, result });
} catch (error) {
  const e = error as NodeJS.ErrnoException;
  parentPort?.postMessage({ ok: false, error: { message: e.message, code: e.code, name: e.name } });
}
