import { existsSync } from "node:fs";
import { link, mkdir, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { FETCH_TEMP, fetchTempName } from "../../db/paths.js";
import { ConflictError, InvalidBackupError, NotFoundError, StoreUnavailableError } from "../../errors.js";
import { fsyncDirAsync, removeDatabaseFile } from "../../lib/durable-fs.js";
import { runTask, WorkerTaskError } from "../../workers/run.js";
import { type BackupKind, parseBackupName, resolveBackupPath } from "../backup/files.js";
import { ensureFreeSpace } from "../backup/storage.js";
import type { ServiceDeps } from "../deps.js";
import { requireOffsite } from "./access.js";
import { headObject, type RemoteMetadata } from "./remote.js";
import type { OffsiteService } from "./service.js";
import { AGE_SUFFIX, candidateKeys, STREAMING_WORKER_LIMITS } from "./settings.js";
import { writeRecord } from "./sidecar.js";

export interface FetchedBackup {
  database: string;
  filename: string;
  size: number;
  created_at: string;
  kind: BackupKind;
  sha256: string;
}

export interface FetchOptions {
  /** Bytes of plaintext written so far and the expected total, a few times a second (the CLI's progress). */
  onProgress?: (written: number, total: number) => void;
}

/**
 * Downloads one remote copy into `backups/<db>/` under its own name: decrypted to a temp file in a worker,
 * kept only when the stream ended cleanly, its SHA-256 matches the recorded one and it validates like a restore.
 */
export async function fetchCopy(
  deps: ServiceDeps,
  database: string,
  filename: string,
  options: FetchOptions = {},
): Promise<FetchedBackup> {
  const service = requireOffsite(deps);
  const dir = deps.paths.backupDir(database);
  const dest = resolveBackupPath(dir, filename);
  if (existsSync(dest)) throw new ConflictError(`backup "${filename}" is already here`, { filename });
  const { key, meta } = await findObject(service, database, filename);
  if (key.endsWith(AGE_SUFFIX) && !service.settings.identityFile) {
    throw new ConflictError(
      "this copy is age-encrypted and no identity is configured: set CHAOSCYPHER_AGE_IDENTITY_FILE",
    );
  }
  await mkdir(dir, { recursive: true });
  const expectedSize = meta.size ?? meta.storedSize;
  await ensureFreeSpace(dir, expectedSize, deps.config.backupFreeMarginBytes);
  const temp = path.join(dir, fetchTempName(filename));
  const log = deps.logger.child({ database, filename, operation: "offsite_fetch", object: key });
  const started = performance.now();
  log.info({ size: expectedSize }, "off-site fetch started");
  const progress = watchProgress(temp, expectedSize, options.onProgress);
  try {
    const fetched = await runTask(
      "offsiteFetch",
      { store: service.settings.store, key, temp, identityFile: service.settings.identityFile },
      { resourceLimits: STREAMING_WORKER_LIMITS },
    ).catch((error: unknown) => {
      throw fetchError(error);
    });
    if (!fetched.recordedSha256) log.warn("the copy has no recorded SHA-256; kept after validation only");
    await validate(deps, temp);
    await placeWithoutOverwrite(temp, dest, filename);
    await fsyncDirAsync(dir);
    await writeRecord(dir, filename, {
      state: "done",
      key,
      at: deps.now().toISOString(),
      attempts: 0,
      sha256: fetched.sha256,
    });
    const durationMs = Math.round(performance.now() - started);
    log.info({ size: fetched.size, durationMs, outcome: "ok" }, "off-site fetch finished");
    const parsed = parseBackupName(filename);
    const kind = parsed?.kind ?? "backup";
    deps.events.emit({ type: "backup.written", database, filename, kind, size: fetched.size, durationMs });
    return {
      database,
      filename,
      size: fetched.size,
      created_at: parsed?.createdAt ?? "",
      kind,
      sha256: fetched.sha256,
    };
  } catch (error) {
    await removeDatabaseFile(temp);
    const durationMs = Math.round(performance.now() - started);
    log.error({ error: (error as Error).message, durationMs, outcome: "failed" }, "off-site fetch failed");
    throw error;
  } finally {
    progress.stop();
  }
}

async function findObject(
  service: OffsiteService,
  database: string,
  filename: string,
): Promise<{ key: string; meta: RemoteMetadata }> {
  for (const key of candidateKeys(service.settings, database, filename)) {
    const meta = await headObject(service.client, service.settings.store.bucket, key);
    if (meta) return { key, meta };
  }
  throw new NotFoundError(`no off-site copy of "${filename}" in database ${database}`, { filename });
}

/** A hard link fails when the name is taken, so a fetch racing another never replaces a backup. */
async function placeWithoutOverwrite(temp: string, dest: string, filename: string): Promise<void> {
  try {
    await link(temp, dest);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new ConflictError(`backup "${filename}" is already here`, { filename });
    }
    throw error;
  }
  await rm(temp, { force: true });
}

/** Restore step 1's checks, on the decrypted temp file. */
async function validate(deps: ServiceDeps, file: string): Promise<void> {
  const newestKnownMillis = deps.migrations.at(-1)?.when ?? 0;
  const result = await runTask("validateBackup", { file, newestKnownMillis });
  if (!result.ok) throw new InvalidBackupError(result.message, { reason: result.reason });
}

function fetchError(error: unknown): Error {
  if (!(error instanceof WorkerTaskError)) return error as Error;
  switch (error.code) {
    case "STORE_UNAVAILABLE":
      return new StoreUnavailableError(error.message, error.details);
    case "NOT_FOUND":
      return new NotFoundError("the off-site copy disappeared while it was fetched");
    case "NO_IDENTITY":
      return new ConflictError(error.message);
    case "CHECKSUM_MISMATCH":
      return new InvalidBackupError("the fetched copy's SHA-256 does not match the one recorded with it", {
        reason: "checksum_mismatch",
        ...error.details,
      });
    case "INVALID_COPY":
      return new InvalidBackupError(error.message, error.details);
    default:
      return error;
  }
}

/** Polls the temp file's size on the main thread: the worker stays a plain task with one result. */
function watchProgress(temp: string, total: number, onProgress: FetchOptions["onProgress"]): { stop(): void } {
  if (!onProgress) return { stop() {} };
  const timer = setInterval(() => {
    stat(temp).then(
      (info) => onProgress(info.size, total),
      () => {},
    );
  }, 200);
  return { stop: () => clearInterval(timer) };
}

/** Leftovers of a fetch cut off by a crash; removed when the service starts, before anything fetches. */
export async function removeFetchLeftovers(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) if (FETCH_TEMP.test(name)) await removeDatabaseFile(path.join(dir, name));
}
