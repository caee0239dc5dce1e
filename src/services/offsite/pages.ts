import { existsSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import path from "node:path";
import { newTemp, releaseTemp } from "../../lib/temp-names.js";
import type { PagesGcResult } from "../../workers/page-tasks.js";
import { listBackupFiles, parseBackupName } from "../backup/files.js";
import { sidecarPath as backupSidecarPath } from "../backup/records.js";
import type { ServiceDeps } from "../deps.js";
import { registerManifestKind } from "./blobs.js";
import { recordBucketUsage } from "./bucket.js";
import { claimCopy } from "./claim.js";
import {
  AGE_SUFFIX,
  installDatabasePrefix,
  installPrefix,
  type OffsiteSettings,
  STREAMING_WORKER_LIMITS,
} from "./settings.js";
import { readRecord } from "./sidecar.js";

/**
 * Incremental copies (docs/offsite.md, "Page copies"): a scheduled backup is a page-preserving copy, so its
 * off-site copy uploads only the pages that differ from the previous copy's, in content-addressed packs, and a
 * manifest naming every page's pack, written last.
 */

// The blob collector reads every manifest under `db/` and refuses kinds it does not know: page manifests name no
// blob (their packs live under `packs/`, collected by `collectPacks`), so it reads them and keeps nothing for them.
registerManifestKind(".pages");

/** The backups whose copies are incremental: scheduled ones (written page-preserving). */
export const isPageCopy = (filename: string) => parseBackupName(filename)?.kind === "scheduled";

/** `<prefix>v2/<install>/db/<db>/<filename>.pages`: the manifest, plaintext (ids and numbers), authenticated. */
export const manifestKey = (
  settings: OffsiteSettings,
  database: string,
  filename: string,
  install = settings.install,
) => `${installDatabasePrefix(settings, database, install)}${filename}.pages`;

/** `<prefix>v2/<install>/packs/<db>/`: the database's packs, `<id[0:2]>/<id>.age`. */
export const packPrefix = (settings: OffsiteSettings, database: string, install = settings.install) =>
  `${installPrefix(settings, install)}packs/${database}/`;

export const packSuffix = (settings: OffsiteSettings) => (settings.recipients.length > 0 ? AGE_SUFFIX : "");

/** The manifest a copy keeps beside its backup (`.<filename>.pages.json`): the next copy diffs against it. */
export const localManifest = (dir: string, filename: string) => backupSidecarPath(dir, filename, "pages");

/**
 * The database's page lock, `backups/<db>/.pages.offsite.lock`: a copy holds it from reading the previous manifest
 * to writing its own, garbage collection for its whole run, so GC never sees packs a copy is about to name.
 */
export const claimPages = (dir: string) => claimCopy(dir, "pages");

/** The newest other backup whose page copy is done and whose manifest is still on this disk. */
async function previousManifest(dir: string, filename: string): Promise<string | null> {
  const backups = (await listBackupFiles(dir)).filter((b) => b.filename !== filename && isPageCopy(b.filename));
  backups.sort((a, b) => (a.filename < b.filename ? 1 : -1));
  for (const b of backups) {
    const manifest = localManifest(dir, b.filename);
    if (!existsSync(manifest)) continue;
    const record = await readRecord(dir, b.filename);
    if (record?.state === "done" && record.key?.endsWith(".pages")) return manifest;
  }
  return null;
}

export interface PagesCopied {
  key: string;
  sha256: string;
  size: number;
  uploadedBytes: number;
  pages: { total: number; new: number };
}

/** One incremental copy, under the page lock; null when another process holds it (retried like a busy claim). */
export async function copyPages(
  deps: ServiceDeps,
  settings: OffsiteSettings,
  database: string,
  filename: string,
  expectedSha256: string | null,
  signal: AbortSignal,
): Promise<PagesCopied | null> {
  const dir = deps.paths.backupDir(database);
  const lock = claimPages(dir);
  if (!lock) return null;
  // Per-process temps (`.<f>.pages.tmp-<pid>-<hex>`): start-up recovery removes them once their process is gone (I3),
  // whether or not off-site copies are still configured, and never while this process writes them (I4).
  const out = newTemp(dir, `${filename}.pages`, "tmp", deps.ids);
  const body = newTemp(dir, `${filename}.pages-body`, "tmp", deps.ids);
  try {
    const parsed = parseBackupName(filename);
    const key = manifestKey(settings, database, filename);
    const result = await deps.tasks.run(
      "offsitePagesUpload",
      {
        file: path.join(dir, filename),
        target: {
          store: settings.store,
          prefix: settings.prefix,
          packPrefix: packPrefix(settings, database),
          suffix: packSuffix(settings),
          key: settings.key.toString("hex"),
          install: settings.install,
        },
        recipients: settings.recipients,
        expectedSha256,
        manifestKey: key,
        header: {
          install: settings.install,
          database,
          backup: filename,
          kind: parsed?.kind ?? "scheduled",
          created_at: parsed?.createdAt ?? "",
        },
        previous: await previousManifest(dir, filename),
        manifestOut: out,
        manifestBodyOut: body,
        partSize: settings.partSize,
      },
      { signal, resourceLimits: STREAMING_WORKER_LIMITS },
    );
    // Kept only once the manifest is in the store: the next copy names packs only a stored manifest names.
    if (existsSync(path.join(dir, filename))) await rename(out, localManifest(dir, filename));
    return {
      key,
      sha256: result.sha256,
      size: result.size,
      uploadedBytes: result.uploadedBytes,
      pages: { total: result.pages, new: result.newPages },
    };
  } finally {
    await rm(out, { force: true });
    await rm(body, { force: true });
    releaseTemp(out);
    releaseTemp(body);
    lock.release();
  }
}

/** What a collection did: manifests read, packs kept and deleted, and the bucket's usage after it. */
export type GcOutcome = PagesGcResult;

/**
 * Removes the database's packs no stored manifest names (a pruned backup's, a killed copy's). Skipped (null) while
 * a copy or another GC holds the page lock: the next deletion or copy runs it again.
 */
export async function collectPacks(
  deps: ServiceDeps,
  settings: OffsiteSettings,
  database: string,
): Promise<GcOutcome | null> {
  const dir = deps.paths.backupDir(database);
  const lock = claimPages(dir);
  if (!lock) return null;
  try {
    const outcome = await deps.tasks.run(
      "offsitePagesGc",
      {
        store: settings.store,
        manifestPrefix: installDatabasePrefix(settings, database),
        packPrefix: packPrefix(settings, database),
      },
      { resourceLimits: STREAMING_WORKER_LIMITS },
    );
    const { usage, ...counts } = outcome;
    deps.logger.info({ database, operation: "offsite_gc", ...counts }, "off-site packs collected");
    // The collection listed every object of the database: what the bucket holds is known without another listing.
    await recordBucketUsage(deps, settings, database, usage);
    return outcome;
  } finally {
    lock.release();
  }
}

/**
 * What the bucket holds for the database, after a whole-file copy or deletion (a pack collection measures on its
 * own): two listings in a worker, kept for /status. A failure keeps the last measurement.
 */
export async function measureBucket(deps: ServiceDeps, settings: OffsiteSettings, database: string): Promise<void> {
  try {
    const usage = await deps.tasks.run(
      "offsiteBucketUsage",
      {
        store: settings.store,
        manifestPrefix: installDatabasePrefix(settings, database),
        packPrefix: packPrefix(settings, database),
      },
      { resourceLimits: STREAMING_WORKER_LIMITS },
    );
    await recordBucketUsage(deps, settings, database, usage);
  } catch (error) {
    deps.logger.warn(
      { database, operation: "offsite", error: (error as Error).message },
      "bucket totals not measured; the last measurement stays",
    );
  }
}
