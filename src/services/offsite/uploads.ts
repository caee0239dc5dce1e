import path from "node:path";
import { InvalidBackupError, NotFoundError } from "../../errors.js";
import { serviceErrorOf } from "../../workers/run.js";
import type { CaptureResult, RestoreResult } from "../../workers/uploads-tasks.js";
import type { ServiceDeps } from "../deps.js";
import { authenticate } from "./auth.js";
import { type BlobContext, blobStoreArgs, holdBlobWrites, manifestCacheDir } from "./blobs.js";
import { headObject } from "./remote.js";
import { AGE_SUFFIX, type OffsiteSettings } from "./settings.js";

/**
 * The uploads of a database (`<data_dir>/databases/<db>/uploads/`) go off-site with each copy of a backup: the
 * files as blobs (stored once per install whatever their names or databases), then a manifest of the tree as it
 * was, `<backup key minus .age>.uploads.age`, after its database copy and all its blobs (I1).
 */

export const UPLOADS_SUFFIX = ".uploads";
const PAGES_SUFFIX = ".pages";

export const uploadsDir = (deps: ServiceDeps, database: string) => path.join(deps.paths.dbDir(database), "uploads");

/** The uploads manifest beside a database copy's key: `….db.age` → `….db.uploads.age`. */
export function uploadsManifestKey(copyKey: string, settings: Pick<OffsiteSettings, "recipients">): string {
  // A page copy's manifest sits where a whole-file copy's would: `<backup>.uploads`, `.age` when encrypted.
  if (copyKey.endsWith(PAGES_SUFFIX)) {
    const stem = copyKey.slice(0, -PAGES_SUFFIX.length);
    return `${stem}${UPLOADS_SUFFIX}${settings.recipients.length > 0 ? AGE_SUFFIX : ""}`;
  }
  const encrypted = copyKey.endsWith(AGE_SUFFIX);
  const base = encrypted ? copyKey.slice(0, -AGE_SUFFIX.length) : copyKey;
  return `${base}${UPLOADS_SUFFIX}${encrypted ? AGE_SUFFIX : ""}`;
}

/** What a backup's offsite record keeps of its uploads (the list, `/status` and the UI show it). */
export interface UploadsRecord {
  key: string;
  files: number;
  bytes: number;
  skipped: number;
}

/**
 * Captures the uploads for one copy, holding the blob lock shared so no collection runs between a blob found
 * present and the manifest naming it. In its own worker: a shutdown's abort stops it.
 */
export async function captureUploadsFor(
  ctx: BlobContext,
  database: string,
  filename: string,
  copyKey: string,
  createdAt: string,
  signal: AbortSignal,
): Promise<CaptureResult> {
  const lock = await holdBlobWrites(ctx.deps, signal);
  try {
    if (signal.aborted) throw Object.assign(new Error("off-site copy stopped"), { name: "AbortError" });
    const result = await ctx.deps.tasks
      .run(
        "captureUploads",
        {
          ...blobStoreArgs(ctx.settings),
          uploadsDir: uploadsDir(ctx.deps, database),
          database,
          backup: filename,
          createdAt,
          stableMs: ctx.deps.config.adoptStableMs,
          manifestKey: uploadsManifestKey(copyKey, ctx.settings),
          cacheDir: manifestCacheDir(ctx.deps, ctx.settings.install),
        },
        // A pooled, warm worker (a fresh one loads the SDK again: seconds per copy); shutdown ends the pool.
      )
      .catch((error: unknown) => {
        throw serviceErrorOf(error);
      });
    if (result.skipped > 0) {
      ctx.deps.logger.warn(
        { database, filename, operation: "offsite", skipped: result.skipped, paths: result.skippedPaths },
        "uploads not captured this time (being written, symlinks or not regular files)",
      );
    }
    return result;
  } finally {
    lock.release();
  }
}

export interface RestoredUploads {
  files: number;
  bytes: number;
  restored: number;
  present: number;
  /** Local files with other bytes at a manifest's path: kept, not replaced. */
  conflicts: string[];
  conflict_count: number;
}

/** The authenticated manifest of a copy (or 404 before anything is fetched); its SHA-256 is what restore checks. */
export async function findUploadsManifest(
  ctx: BlobContext,
  copyKey: string,
  acceptUnauthenticated: boolean,
): Promise<{ key: string; sha256: string }> {
  const key = uploadsManifestKey(copyKey, ctx.settings);
  const meta = await headObject(ctx.client, ctx.settings.store.bucket, key);
  if (!meta?.sha256) {
    throw new NotFoundError("this copy has no uploads manifest (it was made before uploads were captured)", {
      key,
    });
  }
  const verdict = authenticate(ctx.settings, key, meta, { type: "manifest" });
  if (verdict !== "authenticated" && !acceptUnauthenticated) {
    throw new InvalidBackupError(`the uploads manifest cannot be authenticated (${verdict})`, { reason: verdict });
  }
  return { key, sha256: meta.sha256 };
}

/**
 * Brings a manifest's files into the database's uploads dir, each checked against its SHA-256. Missing or damaged
 * blobs are named in a 422 after the others were restored; nothing is silently skipped or replaced.
 */
export async function restoreUploadsOf(
  ctx: BlobContext,
  database: string,
  manifest: { key: string; sha256: string },
  from: string,
): Promise<RestoredUploads> {
  const settings: OffsiteSettings = ctx.settings;
  const result: RestoreResult = await ctx.deps.tasks
    .run("restoreUploads", {
      ...blobStoreArgs(settings),
      manifestKey: manifest.key,
      manifestSha256: manifest.sha256,
      from,
      uploadsDir: uploadsDir(ctx.deps, database),
      tempDir: path.join(manifestCacheDir(ctx.deps, settings.install), ".tmp"),
    })
    .catch((error: unknown) => {
      throw serviceErrorOf(error, { NOT_FOUND: "the uploads manifest disappeared while it was fetched" });
    });
  if (result.conflicts > 0) {
    ctx.deps.logger.warn(
      { database, operation: "offsite_fetch", conflicts: result.conflicts, paths: result.conflictPaths },
      "uploads kept as they are: a local file with other bytes is at the manifest's path",
    );
  }
  if (result.failed > 0) {
    const named = result.failures.map((f) => `${f.path} (${f.reason}, blob ${f.blob})`).join(", ");
    throw new InvalidBackupError(
      `${result.failed} of ${result.files} uploads could not be restored: ${named}; the others were restored`,
      { reason: "uploads_incomplete", failures: result.failures, failed: result.failed, restored: result.restored },
    );
  }
  return {
    files: result.files,
    bytes: result.bytes,
    restored: result.restored,
    present: result.present,
    conflicts: result.conflictPaths,
    conflict_count: result.conflicts,
  };
}
