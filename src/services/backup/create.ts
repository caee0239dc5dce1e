import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { runTask } from "../../workers/run.js";
import type { ServiceDeps } from "../deps.js";
import { nextBackupName, parseBackupName } from "./files.js";
import { ensureFreeSpace } from "./storage.js";

export interface BackupCreated {
  database: string;
  filename: string;
  size: number;
  created_at: string;
}

/** Writes a compacted copy of a live database with VACUUM INTO in a worker; writers keep writing. */
export async function createBackup(deps: ServiceDeps, database: string, filename?: string): Promise<BackupCreated> {
  const { registry, locks, paths, logger, config } = deps;
  registry.holder(database);
  const lock = locks.acquire(database, "backup");
  const started = performance.now();
  const dir = paths.backupDir(database);
  const log = logger.child({ database, operation: "backup" });
  try {
    await mkdir(dir, { recursive: true });
    await ensureFreeSpace(dir, registry.size(database), config.backupFreeMarginBytes);
    const name = filename ?? nextBackupName(dir, deps.now());
    log.info({ filename: name }, "backup started");
    const temp = path.join(dir, `.${name}.tmp-${randomBytes(4).toString("hex")}`);
    const { size } = await runTask("vacuumInto", { src: paths.dbFile(database), temp, dest: path.join(dir, name) });
    const durationMs = Math.round(performance.now() - started);
    log.info({ filename: name, size, durationMs, outcome: "ok" }, "backup finished");
    return { database, filename: name, size, created_at: parseBackupName(name)?.createdAt ?? "" };
  } catch (error) {
    log.error({ err: error, durationMs: Math.round(performance.now() - started), outcome: "failed" }, "backup failed");
    throw error;
  } finally {
    lock.release();
  }
}
