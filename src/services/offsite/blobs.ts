import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import Database from "better-sqlite3";
import { StoreUnavailableError } from "../../errors.js";
import { blobId, blobRelativeKey } from "../../lib/offsite-format.js";
import { type BlobRef, type BlobStoreArgs, blobPresent, type GcResult } from "../../workers/blob-tasks.js";
import { serviceErrorOf } from "../../workers/run.js";
import type { ServiceDeps } from "../deps.js";
import { heldLock } from "../locks.js";
import { installDatabasePrefix, installPrefix, type OffsiteSettings } from "./settings.js";

/**
 * The blob store: content-addressed, age-encrypted objects of one install, and the rule that removes them.
 *
 *   blobKey(settings, id, install?)   `<prefix>v2/<install>/blobs/<id[0:2]>/<id>.age`
 *   blobIdOf(settings, sha256)        HMAC(install key, "chaoscypher blob id\n" ‖ sha256): same bytes, same id
 *   hasBlob(ctx, ref)                 an authenticated blob with these bytes is stored (HEAD + MAC)
 *   putBlob(ctx, file, createdAt)     hash → dedupe → age → upload, in a worker; returns {id, sha256, size, uploaded}
 *   getBlob(ctx, ref, dest, from?)    download → age → SHA-256/size check → new file `dest`, in a worker;
 *                                     422 `blob_missing` / `blob_damaged` naming the blob, 503 store down
 *   registerManifestKind(suffix)      a manifest kind whose objects `v2/<install>/db/<db>/<backup><suffix>[.age]` name
 *                                     blobs: JSON lines, each line's `blob` (string) and `blobs` (string[]) count
 *   putManifest(ctx, m)               a manifest's local plaintext → `<backup key><suffix>.age` (type manifest),
 *                                     kept as the local copy the collector reads without the identity
 *   manifestKey(settings, db, backup, suffix, install?)
 *   holdBlobWrites(deps, signal)      shared lock a writer holds from its first putBlob to its manifest's upload
 *   collectGarbage(ctx)               deletes the install's blobs no manifest of the install names
 *
 * Order (I1, I2): a blob is written before any manifest names it, a manifest after all its blobs. Garbage
 * collection deletes a blob only when every listing and every manifest was read (an outage or an unreadable
 * manifest deletes nothing), no manifest of this install names it, and no writer holds the blob lock.
 */

export interface BlobContext {
  deps: ServiceDeps;
  settings: OffsiteSettings;
  client: S3Client;
}

export type { BlobRef, GcResult };

/** What a worker needs to reach the install's blobs (plain data; the MAC key as hex, never logged). */
export function blobStoreArgs(settings: OffsiteSettings): BlobStoreArgs {
  return {
    store: settings.store,
    prefix: settings.prefix,
    install: settings.install,
    key: settings.key.toString("hex"),
    recipients: settings.recipients,
    identityFile: settings.identityFile,
    partSize: settings.partSize,
  };
}

export const blobKey = (settings: OffsiteSettings, id: string, install = settings.install) =>
  `${settings.prefix}${blobRelativeKey(install, id, settings.recipients.length > 0)}`;

export const blobIdOf = (settings: OffsiteSettings, sha256: string) => blobId(settings.key, sha256);

export async function hasBlob(ctx: BlobContext, ref: BlobRef): Promise<boolean> {
  try {
    return await blobPresent(ctx.client, blobStoreArgs(ctx.settings), ref);
  } catch (error) {
    throw new StoreUnavailableError(`checking a blob failed: ${(error as Error).message}`, {
      reason: (error as { details?: { reason?: string } }).details?.reason ?? "error",
    });
  }
}

export async function putBlob(
  ctx: BlobContext,
  file: string,
  createdAt: string,
): Promise<BlobRef & { uploaded: boolean }> {
  return ctx.deps.tasks.run("blobPut", { ...blobStoreArgs(ctx.settings), file, createdAt }).catch((error: unknown) => {
    throw serviceErrorOf(error);
  });
}

export async function getBlob(ctx: BlobContext, ref: BlobRef, dest: string, from?: string): Promise<void> {
  await ctx.deps.tasks.run("blobGet", { ...blobStoreArgs(ctx.settings), ref, dest, from }).catch((error: unknown) => {
    throw serviceErrorOf(error);
  });
}

/** `<prefix>v2/<install>/db/<db>/<backup><suffix>.age` (no `.age` in plaintext mode). */
export const manifestKey = (
  settings: OffsiteSettings,
  database: string,
  backup: string,
  suffix: string,
  install = settings.install,
) =>
  `${installDatabasePrefix(settings, database, install)}${backup}${suffix}${settings.recipients.length > 0 ? ".age" : ""}`;

export interface ManifestUpload {
  database: string;
  backup: string;
  /** A registered kind's suffix, e.g. `.uploads`; the metadata's `kind` is it without the dot. */
  suffix: string;
  /** The manifest's plaintext (JSON lines); read, not moved. */
  file: string;
  createdAt: string;
}

/** Uploads a manifest after all its blobs (the caller holds the blob lock since its first putBlob). */
export async function putManifest(
  ctx: BlobContext,
  m: ManifestUpload,
): Promise<{ key: string; sha256: string; size: number }> {
  if (!manifestKinds.has(m.suffix)) throw new Error(`manifest kind ${m.suffix} is not registered`);
  const key = manifestKey(ctx.settings, m.database, m.backup, m.suffix);
  const result = await ctx.deps.tasks
    .run("manifestPut", {
      ...blobStoreArgs(ctx.settings),
      file: m.file,
      objectKey: key,
      cacheDir: manifestCacheDir(ctx.deps, ctx.settings.install),
      kind: m.suffix.slice(1),
      createdAt: m.createdAt,
    })
    .catch((error: unknown) => {
      throw serviceErrorOf(error);
    });
  return { key, ...result };
}

const manifestKinds = new Set<string>([".uploads"]);

/** Declares a manifest kind by its key suffix (before `.age`); its lines name blobs by `blob` / `blobs`. */
export function registerManifestKind(suffix: string): void {
  if (!/^\.[a-z0-9-]+$/.test(suffix)) throw new Error(`invalid manifest suffix ${suffix}`);
  manifestKinds.add(suffix);
}

export const registeredManifestKinds = () => [...manifestKinds];

/** Local plaintext copies of this install's manifests (how a host without the identity reads them for the GC). */
export const manifestCacheDir = (deps: ServiceDeps, install: string) =>
  path.join(deps.paths.root, "offsite-manifests", install);

/** The local copy of one of this install's manifests: by its key relative to `v2/<install>/`, without `.age`. */
export const manifestCachePath = (settings: OffsiteSettings, deps: ServiceDeps, key: string) =>
  path.join(manifestCacheDir(deps, settings.install), key.slice(installPrefix(settings).length).replace(/\.age$/, ""));

export interface BlobLock {
  release(): void;
}

const LOCK_FILE = ".offsite-blobs.lock";

/**
 * The install's blob lock, `backups/.offsite-blobs.lock`, a kernel lock (SQLite's fcntl locks, dropped when the
 * holder dies): writers share it, the collector takes it alone. So a blob a writer found present (and will name)
 * is never collected before its manifest is up. Null while the other side holds it.
 */
export function lockBlobs(deps: ServiceDeps, mode: "shared" | "exclusive"): BlobLock | null {
  const sqlite = new Database(path.join(deps.paths.backupsDir, LOCK_FILE));
  try {
    sqlite.pragma("busy_timeout = 0");
    if (mode === "exclusive") sqlite.exec("BEGIN EXCLUSIVE");
    else {
      sqlite.exec("BEGIN");
      sqlite.prepare("SELECT count(*) FROM sqlite_master").get();
    }
  } catch (error) {
    sqlite.close();
    if ((error as { code?: string }).code === "SQLITE_BUSY") return null;
    throw error;
  }
  return heldLock(sqlite);
}

/** The shared blob lock, waiting (polling) while a collection runs; rejects when `signal` aborts. */
export async function holdBlobWrites(deps: ServiceDeps, signal?: AbortSignal): Promise<BlobLock> {
  for (;;) {
    const lock = lockBlobs(deps, "shared");
    if (lock) return lock;
    if (signal?.aborted) throw Object.assign(new Error("stopped"), { name: "AbortError" });
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Deletes this install's unreferenced blobs (rule in the header). `busy` when a writer holds the lock: the next
 * deletion or rescan tries again. A store outage is a 503 and deletes nothing.
 */
export async function collectGarbage(
  ctx: BlobContext,
  options: { dryRun?: boolean } = {},
): Promise<GcResult | { busy: true }> {
  const lock = lockBlobs(ctx.deps, "exclusive");
  if (!lock) return { busy: true };
  try {
    const result = await ctx.deps.tasks
      .run("blobGc", {
        ...blobStoreArgs(ctx.settings),
        suffixes: registeredManifestKinds(),
        cacheDir: manifestCacheDir(ctx.deps, ctx.settings.install),
        dryRun: options.dryRun ?? false,
      })
      .catch((error: unknown) => {
        throw serviceErrorOf(error);
      });
    ctx.deps.logger.info(
      { operation: "offsite_gc", manifests: result.manifests, blobs: result.blobs, deleted: result.deleted.length },
      "off-site blob collection finished",
    );
    return result;
  } finally {
    lock.release();
  }
}
