import { parentPort, workerData } from "node:worker_threads";
import { copyDurably, migrateFile, vacuumInto, validateBackup } from "./sqlite-tasks.js";

const tasks = { vacuumInto, copyDurably, validateBackup, migrateFile } as const;

const { task, args } = workerData as { task: keyof typeof tasks; args: never };
try {
  const result = tasks[task](args);
  parentPort?.postMessage({ ok: true, result });
} catch (error) {
  const e = error as NodeJS.ErrnoException & { details?: Record<string, unknown> };
  parentPort?.postMessage({ ok: false, error: { message: e.message, code: e.code, name: e.name, details: e.details } });
}
