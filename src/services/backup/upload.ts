import { mkdir, open, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { UPLOAD_TEMP } from "../../db/paths.js";
import { InsufficientStorageError, InvalidBackupError, PayloadTooLargeError, ValidationError } from "../../errors.js";
import { removeDatabaseFile } from "../../lib/durable-fs.js";
import { abandonedTemp, newTemp, releaseTemp } from "../../lib/temp-names.js";
import type { HashResult } from "../../workers/hash.js";
import { WorkerTaskError } from "../../workers/run.js";
import type { ValidationResult } from "../../workers/sqlite-tasks.js";
import type { ServiceDeps } from "../deps.js";
import { type BackupCreated, recordWritten } from "./create.js";
import { nextPrefixedName, parseBackupName } from "./files.js";
import type { BackupSource } from "./records.js";
import { ensureFreeSpace } from "./storage.js";
import { holdUploadLock, trySweepLock } from "./upload-lock.js";
import { fileSink } from "../../lib/file-sink.js";

export interface BackupUploaded extends BackupCreated {
  kind: "uploaded";
  source: BackupSource;
}

/** What the client says about the file it sends: its own name and last-modified time (both optional). */
export interface UploadOrigin {
  name?: string | undefined;
  modifiedAt?: string | undefined;
}

/**
 * Incoming uploads and imports before validation, `.upload.tmp-<pid>-<hex>` (temp-names.ts); never listed,
 * removed on failure, and at start when no live process holds them. Without a pid: an older version's.
 */
const uploadTemp = (deps: ServiceDeps, dir: string) => newTemp(dir, "upload", "tmp", deps.ids);
const nextUploadName = nextPrefixedName("upload");

type CheckedFile = ValidationResult & Partial<HashResult>;

/**
 * `POST /backup/upload`: the body streamed to a temp file with constant memory (backpressure), then fsynced,
 * hashed and validated like restore step 1 side by side, then named `upload_…`.
 * Too large → 413 as soon as known; a full disk → 507; a client that goes away, or any refusal, leaves no file.
 */
export async function receiveUpload(
  deps: ServiceDeps,
  database: string,
  body: Readable,
  declaredLength: number | null,
  origin: UploadOrigin = {},
): Promise<BackupUploaded> {
  deps.registry.holder(database);
  const max = deps.config.uploadMaxBytes;
  if (declaredLength !== null && declaredLength > max) throw tooLarge(max);
  const dir = deps.paths.backupDir(database);
  await mkdir(dir, { recursive: true });
  await ensureFreeSpace(dir, declaredLength ?? 0, deps.config.backupFreeMarginBytes);
  const temp = uploadTemp(deps, dir);
  const log = deps.logger.child({ database, operation: "upload" });
  const started = performance.now();
  log.info({ declaredLength }, "upload started");
  // Held while the temp exists, so no start-up sweep in another process removes it (I4).
  const lock = await holdUploadLock(deps, database);
  try {
    const checked = await receiveChecked(deps, temp, body, max);
    return await acceptBackupFile(deps, database, temp, checked, log, started, origin);
  } catch (error) {
    await removeDatabaseFile(temp, deps.fileOps);
    if (clientWentAway(error, body)) throw reportCancelled(log, started);
    throw reportFailure(deps, database, log, started, error);
  } finally {
    lock.release();
    releaseTemp(temp);
  }
}

/**
 * The client closed the connection before the body's end: nothing of ours failed, so it is logged at info,
 * notifies nobody, and answers 400 (which no one will read) instead of a 500.
 */
function clientWentAway(error: unknown, body: Readable): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  const aborted = (body as Readable & { aborted?: boolean }).aborted === true;
  return aborted || code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE";
}

function reportCancelled(log: ServiceDeps["logger"], started: number): ValidationError {
  const durationMs = Math.round(performance.now() - started);
  log.info({ durationMs, outcome: "cancelled" }, "upload cancelled by the client");
  return new ValidationError("the upload ended before its last byte: the client closed the connection", {
    reason: "client_closed",
  });
}

/** `chaoscypher backup import <path>`: the same as an upload, from a local file copied in a worker. */
export async function importBackup(deps: ServiceDeps, database: string, source: string): Promise<BackupUploaded> {
  deps.registry.holder(database);
  const info = await stat(source).catch(() => null);
  if (!info?.isFile()) throw new ValidationError(`no such file: ${source}`, { path: source });
  const dir = deps.paths.backupDir(database);
  await mkdir(dir, { recursive: true });
  await ensureFreeSpace(dir, info.size, deps.config.backupFreeMarginBytes);
  const temp = uploadTemp(deps, dir);
  const log = deps.logger.child({ database, operation: "import", source });
  const started = performance.now();
  log.info({ size: info.size }, "import started");
  const lock = await holdUploadLock(deps, database);
  try {
    // A WAL-mode file's committed transactions in its -wal come along (read through SQLite), never dropped.
    const { throughSqlite } = await deps.tasks
      .run("copyForImport", { src: source, dest: temp })
      .catch((error: unknown) => {
        if (!(error instanceof WorkerTaskError) || !/-wal/.test(error.message)) throw error;
        throw new InvalidBackupError(error.message, { reason: "unreadable_wal" });
      });
    if (throughSqlite) log.info("the source's -wal holds committed transactions: copied through SQLite");
    const checked = await deps.tasks.run("validateAndHash", { file: temp, newestKnownMillis: newestKnownMillis(deps) });
    const origin = { name: path.basename(source), modifiedAt: info.mtime.toISOString() };
    return await acceptBackupFile(deps, database, temp, checked, log, started, origin);
  } catch (error) {
    await removeDatabaseFile(temp, deps.fileOps);
    throw reportFailure(deps, database, log, started, error);
  } finally {
    lock.release();
    releaseTemp(temp);
  }
}

/**
 * The body written to `temp`; once it is complete, its fsync, its hash and its validation exactly as restore
 * step 1 run side by side (two pooled workers reading the page-cached file), and all three have finished
 * before anything else touches the file. Hashing during the receive was measured too: no faster on two
 * cores, and it took CPU from the event loop (/verify p99 during a 1 GiB upload 33 ms against 27 ms).
 */
async function receiveChecked(deps: ServiceDeps, temp: string, body: Readable, max: number): Promise<CheckedFile> {
  const handle = await open(temp, "wx", 0o600);
  try {
    await pipeline(body, byteLimit(max), fileSink(handle));
    const [, hash, result] = await settleAll([
      handle.sync(),
      deps.tasks.run("hashFile", { file: temp }),
      deps.tasks.run("validateBackup", { file: temp, newestKnownMillis: newestKnownMillis(deps) }),
    ]);
    return result.ok ? { ...result, ...hash } : result;
  } finally {
    await handle.close();
  }
}

/** Like Promise.all, but waits for every promise to settle before throwing the first failure. */
async function settleAll<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

const newestKnownMillis = (deps: ServiceDeps) => deps.migrations.at(-1)?.when ?? 0;

/** Names a validated, hashed and fsynced file `upload_…` (or refuses it: 422). */
async function acceptBackupFile(
  deps: ServiceDeps,
  database: string,
  temp: string,
  checked: CheckedFile,
  log: ServiceDeps["logger"],
  started: number,
  origin: UploadOrigin,
): Promise<BackupUploaded> {
  if (!checked.ok) throw new InvalidBackupError(checked.message, { reason: checked.reason });
  const sha256 = checked.sha256 as string;
  const size = checked.size as number;
  const dir = path.dirname(temp);
  const filename = await linkUnderFreeName(deps, dir, temp);
  await removeDatabaseFile(temp, deps.fileOps);
  await deps.fileOps.fsyncDir(dir);
  const created_at = parseBackupName(filename)?.createdAt ?? "";
  // Kept with the record, so the list can say which file of the operator's this was (the name is ours).
  const source: BackupSource = {
    original_name: origin.name || filename,
    uploaded_at: deps.now().toISOString(),
    ...(origin.modifiedAt ? { modified_at: origin.modifiedAt } : {}),
  };
  await recordWritten(deps, database, { filename, size, sha256, created_at, source });
  const durationMs = Math.round(performance.now() - started);
  log.info({ filename, size, sha256, durationMs, outcome: "ok" }, "backup received");
  deps.events.emit({ type: "backup.written", database, filename, kind: "uploaded", size, durationMs });
  return { database, filename, size, created_at, sha256, kind: "uploaded", source };
}

/** link() never replaces an existing name, so two uploads in one second (even from two processes) both keep theirs. */
async function linkUnderFreeName(deps: ServiceDeps, dir: string, temp: string): Promise<string> {
  for (;;) {
    const filename = nextUploadName(dir, deps.now());
    try {
      await deps.fileOps.link(temp, path.join(dir, filename));
      return filename;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
}

/**
 * Removes uploads and imports a crash interrupted (with any -journal/-wal/-shm); run by the server at
 * start-up. Never one a live process (a CLI import) is writing (I4): a temp named with a pid goes only when
 * that process is dead; an older version's pidless temp only under the sweep lock no live writer holds.
 */
export async function removeUploadLeftovers(deps: ServiceDeps, database: string): Promise<void> {
  const dir = deps.paths.backupDir(database);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => abandonedTemp(dir, n, "tmp")?.base === "upload")) {
    await deps.fileOps.rm(path.join(dir, name));
    deps.logger.info({ database, file: name }, "recovery: removed an interrupted upload");
  }
  const legacy = names.filter((n) => UPLOAD_TEMP.test(n));
  if (legacy.length === 0) return;
  const lock = trySweepLock(deps, database);
  if (!lock) {
    deps.logger.info({ database }, "recovery: an upload or import is in progress in another process; its temp stays");
    return;
  }
  try {
    for (const name of legacy) {
      await deps.fileOps.rm(path.join(dir, name));
      deps.logger.info({ database, file: name }, "recovery: removed an interrupted upload");
    }
  } finally {
    lock.release();
  }
}

function tooLarge(max: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`backups larger than ${max} bytes are not accepted (CHAOSCYPHER_UPLOAD_MAX_BYTES)`);
}

/** Counts bytes as they pass and fails the pipeline the moment the limit is crossed. */
function byteLimit(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > max) callback(tooLarge(max));
      else callback(null, chunk);
    },
  });
}

/** Logs and announces a refused or broken upload (the UI's warning banner listens), returning the error to throw. */
function reportFailure(
  deps: ServiceDeps,
  database: string,
  log: ServiceDeps["logger"],
  started: number,
  error: unknown,
): unknown {
  const mapped = storageError(error);
  const durationMs = Math.round(performance.now() - started);
  log.warn({ err: mapped, durationMs, outcome: "failed" }, "upload failed");
  const message = (mapped as Error).message ?? String(mapped);
  deps.events.emit({ type: "backup.failed", database, kind: "uploaded", error: message, durationMs });
  return mapped;
}

function storageError(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new InsufficientStorageError("not enough free disk space for this upload", { reason: code });
  }
  return error;
}
