import { existsSync } from "node:fs";
import { rm, stat } from "node:fs/promises";
import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { InsufficientStorageError, InvalidBackupError, ServiceError, StoreUnavailableError } from "../../errors.js";
import { keyId } from "../../lib/offsite-format.js";
import { serviceErrorOf, WorkerTaskError } from "../../workers/run.js";
import type { CaptureResult } from "../../workers/uploads-tasks.js";
import { parseBackupName } from "../backup/files.js";
import type { ServiceDeps } from "../deps.js";
import { authenticate } from "./auth.js";
import { manifestCachePath } from "./blobs.js";
import type { Sha256Lookup } from "./checksum.js";
import { claimCopy } from "./claim.js";
import { collectPacks, copyPages, isPageCopy, localManifest, manifestKey, measureBucket } from "./pages.js";
import { abortIncompleteUploads, deleteObject, headObject } from "./remote.js";
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
  type FailureReason,
  type OffsiteRecord,
  readRecord,
  readTombstone,
  removeRecord,
  removeTombstone,
  writeRecord,
} from "./sidecar.js";
import { captureUploadsFor, uploadsManifestKey } from "./uploads.js";

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
 * either: `failed`) may have left a multipart upload behind: it is aborted first; or it may have completed its
 * upload: that object is kept (`alreadyStored`).
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
  // A redo: an earlier attempt was cut off (`uploading`) or failed, before or after its upload completed.
  const redo = previous?.state === "uploading" || previous?.state === "failed";
  await writeRecord(dir, filename, { state: "uploading", key, attempts, at: deps.now().toISOString() });
  if (redo) {
    await abortIncompleteUploads(ctx.client, settings.store.bucket, previous.key ?? key, deps.logger);
  }
  await ctx.ensureMarker();
  const log = deps.logger.child({ database, filename, operation: "offsite", object: key });
  const started = performance.now();
  log.info({ attempt: attempts }, "off-site copy started");
  const parsed = parseBackupName(filename);
  if (isPageCopy(filename)) return copyIncremental(ctx, database, filename, signal, { attempts, started, log });
  const expectedSha256 = await ctx.lookup(deps, database, filename);
  const result =
    (redo ? await alreadyStored(ctx, key, file, expectedSha256, log) : null) ??
    (await uploadWhole(ctx, { file, key, expectedSha256, kind: parsed?.kind, createdAt: parsed?.createdAt }, signal));
  if (signal.aborted) throw Object.assign(new Error("off-site copy stopped"), { name: "AbortError" });
  // The uploads' manifest goes after its database copy and its blobs (I1); the copy is done only with both.
  const uploads = await captureUploadsFor(ctx, database, filename, key, parsed?.createdAt ?? "", signal);
  const record: OffsiteRecord = {
    state: "done",
    key,
    at: deps.now().toISOString(),
    attempts,
    sha256: result.sha256,
    uploads: uploadsRecord(uploads),
    uploaded_bytes: result.uploadedBytes,
  };
  await writeRecord(dir, filename, record);
  const durationMs = Math.round(performance.now() - started);
  log.info(
    { size: result.size, durationMs, outcome: "ok", uploads: uploads.files, uploadsSent: uploads.uploadedBytes },
    "off-site copy finished",
  );
  deps.events.emit({ type: "operation.finished", database, operation: "offsite", outcome: "ok", filename });
  await measureBucket(deps, settings, database);
  return record;
}

/** The file, age-encrypted, streamed to `key` by a worker with its authenticated metadata. */
async function uploadWhole(
  ctx: CopyContext,
  copy: { file: string; key: string; expectedSha256: string | null; kind?: string; createdAt?: string },
  signal: AbortSignal,
): Promise<{ sha256: string; size: number; uploadedBytes: number }> {
  const { settings } = ctx;
  return ctx.deps.tasks
    .run(
      "offsiteUpload",
      {
        file: copy.file,
        store: settings.store,
        key: copy.key,
        recipients: settings.recipients,
        expectedSha256: copy.expectedSha256,
        kind: copy.kind ?? "backup",
        createdAt: copy.createdAt ?? "",
        partSize: settings.partSize,
        auth: {
          key: settings.key.toString("hex"),
          install: settings.install,
          relativeKey: relativeKey(settings, copy.key),
        },
      },
      { signal, resourceLimits: STREAMING_WORKER_LIMITS },
    )
    .catch((error: unknown) => {
      throw copyError(error);
    });
}

/**
 * An earlier attempt killed or failed after its upload completed (before its record said done) left the whole copy
 * in the store. An object at this key that this install's own key authenticates, with this backup's SHA-256 and
 * size, holds exactly its bytes (an upload is completed only once its bytes hashed to that SHA-256), so it is
 * recorded instead of being sent again; anything else (no object, another key's, other bytes) is uploaded anew.
 */
async function alreadyStored(
  ctx: CopyContext,
  key: string,
  file: string,
  sha256: string | null,
  log: ServiceDeps["logger"],
): Promise<{ sha256: string; size: number; uploadedBytes: number } | null> {
  if (sha256 === null) return null;
  const meta = await headObject(ctx.client, ctx.settings.store.bucket, key).catch(() => null);
  if (!meta || meta.keyId !== keyId(ctx.settings.key) || meta.sha256 !== sha256) return null;
  if (authenticate(ctx.settings, key, meta, { type: "database" }) !== "authenticated") return null;
  const { size } = await stat(file);
  if (meta.size !== size) return null;
  log.info({ size }, "off-site copy found whole in the store (an earlier attempt's upload): not sent again");
  return { sha256, size, uploadedBytes: 0 };
}

/**
 * A scheduled backup's copy: only the pages that differ from the previous copy's, then its manifest (last). The
 * page lock is taken inside; while another process holds it the copy is busy and retried like a claimed one.
 */
async function copyIncremental(
  ctx: CopyContext,
  database: string,
  filename: string,
  signal: AbortSignal,
  run: { attempts: number; started: number; log: ServiceDeps["logger"] },
): Promise<OffsiteRecord> {
  const { deps, settings } = ctx;
  const dir = deps.paths.backupDir(database);
  const copied = await copyPages(
    deps,
    settings,
    database,
    filename,
    await ctx.lookup(deps, database, filename),
    signal,
  ).catch((error: unknown) => {
    throw copyError(error);
  });
  if (!copied) throw new CopyBusyError(`the pages of database ${database} are being copied by another process`);
  if (signal.aborted) throw Object.assign(new Error("off-site copy stopped"), { name: "AbortError" });
  // The uploads' manifest goes after the page manifest and its blobs (I1), as for a whole-file copy.
  const createdAt = parseBackupName(filename)?.createdAt ?? "";
  const uploads = await captureUploadsFor(ctx, database, filename, copied.key, createdAt, signal);
  const record: OffsiteRecord = {
    state: "done",
    key: copied.key,
    at: deps.now().toISOString(),
    attempts: run.attempts,
    sha256: copied.sha256,
    uploads: uploadsRecord(uploads),
    uploaded_bytes: copied.uploadedBytes,
    pages: copied.pages,
  };
  await writeRecord(dir, filename, record);
  const durationMs = Math.round(performance.now() - run.started);
  run.log.info(
    { size: copied.size, uploaded: copied.uploadedBytes, pages: copied.pages, durationMs, outcome: "ok" },
    "off-site copy finished",
  );
  deps.events.emit({ type: "operation.finished", database, operation: "offsite", outcome: "ok", filename });
  // A killed earlier attempt may have left packs no manifest names: collected now (skipped while busy).
  await collectPacks(deps, settings, database).catch((error: unknown) =>
    deps.logger.warn({ database, error: (error as Error).message }, "off-site pack collection failed; retried later"),
  );
  return record;
}

/** What the copy's record keeps of its uploads' manifest. */
function uploadsRecord(uploads: CaptureResult): NonNullable<OffsiteRecord["uploads"]> {
  const { files, bytes, skipped, hashed, reused } = uploads;
  return { key: uploads.manifest.key, files, bytes, skipped, hashed, reused };
}

/** Worker failures as service errors: their messages were made safe to show in the worker. */
export function copyError(error: unknown): Error {
  if (error instanceof WorkerTaskError && error.code === "ENOENT") return new BackupGoneError(error.message);
  return serviceErrorOf(error);
}

/** The failure's cause as recorded, so the list can give each its own remedy. */
export function failureReason(error: Error): FailureReason {
  if (error instanceof StoreUnavailableError) {
    const reason = error.details?.reason;
    return reason === "unreachable" || reason === "denied" ? reason : "store_error";
  }
  if (error instanceof InvalidBackupError && error.details?.reason === "checksum_mismatch") return "checksum_mismatch";
  if (error instanceof InsufficientStorageError) return "disk_full";
  return "other";
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
    reason: failureReason(error),
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
  // The local manifest goes before the remote one: no later copy may name packs only a deleted manifest kept.
  await rm(localManifest(dir, filename), { force: true });
  const keys = new Set(
    [
      ...named,
      ...(isPageCopy(filename) ? [manifestKey(ctx.settings, database, filename)] : []),
      ...candidateKeys(ctx.settings, database, filename),
      ...legacyKeys(ctx.settings, database, filename),
    ].filter((key) => ownsKey(ctx.settings, key) || isLegacyKey(ctx.settings, key)),
  );
  // The uploads' manifest goes with its copy; the blobs it named go only by the collection rule (blobs.ts).
  const manifests = [...keys]
    .filter((key) => ownsKey(ctx.settings, key))
    .map((key) => uploadsManifestKey(key, ctx.settings));
  for (const key of [...manifests, ...keys]) await deleteObject(ctx.client, ctx.settings.store.bucket, key);
  for (const key of manifests) await rm(manifestCachePath(ctx.settings, ctx.deps, key), { force: true });
  await removeTombstone(dir, filename);
  if (!existsSync(path.join(dir, filename))) await removeRecord(dir, filename);
  ctx.deps.logger.info({ database, filename, operation: "offsite", objects: [...keys] }, "off-site copy deleted");
  // Packs only this manifest named go now; a GC that cannot read every manifest deletes nothing (I2).
  if (isPageCopy(filename)) {
    await collectPacks(ctx.deps, ctx.settings, database).catch((error: unknown) =>
      ctx.deps.logger.warn({ database, error: (error as Error).message }, "off-site pack collection failed"),
    );
  } else await measureBucket(ctx.deps, ctx.settings, database);
}
