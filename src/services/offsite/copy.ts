import { existsSync } from "node:fs";
import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { ServiceError } from "../../errors.js";
import { serviceErrorOf, WorkerTaskError } from "../../workers/run.js";
import { parseBackupName } from "../backup/files.js";
import type { ServiceDeps } from "../deps.js";
import type { Sha256Lookup } from "./checksum.js";
import { claimCopy } from "./claim.js";
import { abortIncompleteUploads, deleteObject } from "./remote.js";
import {
  candidateKeys,
  isLegacyKey,
  legacyKeys,
  type OffsiteSettings,
  objectKey,
  ownsKey,
  relativeKey,
  STREAMING_WORKER_LIMITS,
} from "./settings.js";
import {
  type OffsiteRecord,
  readRecord,
  readTombstone,
  removeRecord,
  removeTombstone,
  writeRecord,
} from "./sidecar.js";

export interface CopyContext {
  deps: ServiceDeps;
  settings: OffsiteSettings;
  client: S3Client;
  lookup: Sha256Lookup;
  /** Writes `v2/<install>/install.json` once per process, before this install's first copy. */
  ensureMarker: () => Promise<void>;
}

/** The local backup disappeared (deleted, pruned): there is nothing left to copy. */
export class BackupGoneError extends Error {}

/** Another process (the server, a CLI push) holds this backup's copy claim: it is being copied there. */
export class CopyBusyError extends Error {}

/**
 * One attempt under the backup's cross-process claim (I4): never two uploads of one backup at once, and the
 * clean-up of an earlier attempt's multipart upload never aborts one that a live process is sending. A copy
 * another process finished while this one waited is not uploaded again.
 */
export async function copyBackup(
  ctx: CopyContext,
  database: string,
  filename: string,
  signal: AbortSignal,
): Promise<OffsiteRecord> {
  const dir = ctx.deps.paths.backupDir(database);
  const claim = claimCopy(dir, filename);
  if (!claim) throw new CopyBusyError(`backup "${filename}" is being copied by another process`);
  try {
    const record = await readRecord(dir, filename);
    if (record?.state === "done") return record;
    return await copyClaimed(ctx, database, filename, signal);
  } finally {
    claim.release();
  }
}

/**
 * One attempt at copying one backup: record `uploading`, stream it in a worker, record `done`. An earlier attempt
 * that was cut off (crash, shutdown: `uploading`) or failed with the store down (its abort could not reach it
 * either: `failed`) may have left a multipart upload behind: it is aborted first.
 */
async function copyClaimed(
  ctx: CopyContext,
  database: string,
  filename: string,
  signal: AbortSignal,
): Promise<OffsiteRecord> {
  const { deps, settings } = ctx;
  const dir = deps.paths.backupDir(database);
  const file = path.join(dir, filename);
  if (!existsSync(file)) throw new BackupGoneError(`backup "${filename}" is gone`);
  const previous = await readRecord(dir, filename);
  const attempts = (previous?.attempts ?? 0) + 1;
  const key = objectKey(settings, database, filename);
  await writeRecord(dir, filename, { state: "uploading", key, attempts, at: deps.now().toISOString() });
  if (previous?.state === "uploading" || previous?.state === "failed") {
    await abortIncompleteUploads(ctx.client, settings.store.bucket, previous.key ?? key, deps.logger);
  }
  await ctx.ensureMarker();
  const log = deps.logger.child({ database, filename, operation: "offsite", object: key });
  const started = performance.now();
  log.info({ attempt: attempts }, "off-site copy started");
  const parsed = parseBackupName(filename);
  const result = await deps.tasks
    .run(
      "offsiteUpload",
      {
        file,
        store: settings.store,
        key,
        recipients: settings.recipients,
        expectedSha256: await ctx.lookup(deps, database, filename),
        kind: parsed?.kind ?? "backup",
        createdAt: parsed?.createdAt ?? "",
        partSize: settings.partSize,
        auth: { key: settings.key.toString("hex"), install: settings.install, relativeKey: relativeKey(settings, key) },
      },
      { signal, resourceLimits: STREAMING_WORKER_LIMITS },
    )
    .catch((error: unknown) => {
      throw copyError(error);
    });
  if (signal.aborted) throw Object.assign(new Error("off-site copy stopped"), { name: "AbortError" });
  const record: OffsiteRecord = { state: "done", key, at: deps.now().toISOString(), attempts, sha256: result.sha256 };
  await writeRecord(dir, filename, record);
  const durationMs = Math.round(performance.now() - started);
  log.info({ size: result.size, durationMs, outcome: "ok" }, "off-site copy finished");
  deps.events.emit({ type: "operation.finished", database, operation: "offsite", outcome: "ok", filename });
  return record;
}

/** Worker failures as service errors: their messages were made safe to show in the worker. */
export function copyError(error: unknown): Error {
  if (error instanceof WorkerTaskError && error.code === "ENOENT") return new BackupGoneError(error.message);
  return serviceErrorOf(error);
}

/** Records a failed attempt (kept `failed` until the next one) and reports it. */
export async function recordFailure(
  ctx: CopyContext,
  database: string,
  filename: string,
  error: Error,
  nextAttemptAt: Date | null,
): Promise<void> {
  const { deps } = ctx;
  const dir = deps.paths.backupDir(database);
  const previous = await readRecord(dir, filename);
  const message = error instanceof ServiceError ? error.message : `off-site copy failed: ${error.message}`;
  // A record that cannot be written (a full disk) does not end the process or hide the failure: it is still
  // logged and notified below, and the queue retries as planned.
  await writeRecord(dir, filename, {
    state: "failed",
    key: previous?.key ?? objectKey(ctx.settings, database, filename),
    at: deps.now().toISOString(),
    error: message,
    attempts: previous?.attempts ?? 1,
    ...(nextAttemptAt ? { next_attempt_at: nextAttemptAt.toISOString() } : {}),
  }).catch((writeError: unknown) =>
    deps.logger.warn({ err: writeError, database, filename, operation: "offsite" }, "off-site record not written"),
  );
  deps.logger.error(
    { database, filename, operation: "offsite", outcome: "failed", error: message, retryAt: nextAttemptAt },
    "off-site copy failed",
  );
  deps.events.emit({
    type: "operation.finished",
    database,
    operation: "offsite",
    outcome: "failed",
    filename,
    error: message,
  });
}

/**
 * Removes a pruned backup's remote copy, then the tombstone. Only this install's format-2 keys go (I4), and the
 * format-1 key of the same name: format 1 has no owner (every install wrote that one key), so it is pruned as before.
 */
export async function deleteRemoteCopy(ctx: CopyContext, database: string, filename: string): Promise<void> {
  const dir = ctx.deps.paths.backupDir(database);
  const record = await readRecord(dir, filename);
  const named = [...(await readTombstone(dir, filename)), ...(record?.key ? [record.key] : [])];
  const keys = new Set(
    [
      ...named,
      ...candidateKeys(ctx.settings, database, filename),
      ...legacyKeys(ctx.settings, database, filename),
    ].filter((key) => ownsKey(ctx.settings, key) || isLegacyKey(ctx.settings, key)),
  );
  for (const key of keys) await deleteObject(ctx.client, ctx.settings.store.bucket, key);
  await removeTombstone(dir, filename);
  if (!existsSync(path.join(dir, filename))) await removeRecord(dir, filename);
  ctx.deps.logger.info({ database, filename, operation: "offsite", objects: [...keys] }, "off-site copy deleted");
}
