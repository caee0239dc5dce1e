import { existsSync } from "node:fs";
import path from "node:path";
import { ValidationError } from "../../errors.js";
import { databaseNameSchema } from "../../lib/names.js";
import type { MacVerdict } from "../../lib/offsite-format.js";
import { type BackupKind, listBackupFiles, parseBackupName } from "../backup/files.js";
import type { ServiceDeps } from "../deps.js";
import { requireOffsite } from "./access.js";
import { authenticate } from "./auth.js";
import { type BucketTotals, bucketTotals } from "./bucket.js";
import { headObject, listInstalls, listObjects, type RemoteObject } from "./remote.js";
import { databasePrefix, installDatabasePrefix } from "./settings.js";
import { type OffsiteStateName, publicState, readRecord } from "./sidecar.js";

export interface RemoteBackup {
  filename: string;
  /** The install that wrote it; null for a format-1 copy (made before installs had ids). */
  install: string | null;
  /** Whether this install wrote it (and so may prune it). */
  own: boolean;
  key: string;
  format: 1 | 2;
  /** Plaintext bytes, as recorded in the object's metadata (else the stored size). */
  size: number;
  created_at: string;
  kind: BackupKind;
  sha256: string | null;
  local: boolean;
  encrypted: boolean;
  /** Whether its MAC verifies with a key this host trusts, or why not. */
  authentication: MacVerdict;
  /** An incremental copy (a page manifest naming shared packs). */
  incremental?: boolean;
  stored_bytes?: number;
}

const HEAD_CONCURRENCY = 4;

interface Found extends RemoteObject {
  install: string | null;
}

/**
 * The copies in the bucket for one database, every install's and the format-1 ones, newest first, read from the
 * store itself (a new host has no records). The database need not exist here yet: listing is how a recovery starts.
 */
export async function listRemoteCopies(
  deps: ServiceDeps,
  database: string,
  options: { install?: string | undefined } = {},
): Promise<{ database: string; install: string; backups: RemoteBackup[]; bucket: BucketTotals | null }> {
  const service = requireOffsite(deps);
  const { settings, client } = service;
  if (!databaseNameSchema.safeParse(database).success) throw new ValidationError("invalid database name", { database });
  // An incremental copy is its manifest, `<filename>.pages`.
  const isBackup = (n: string) => parseBackupName(n.replace(/\.pages$/, "")) !== null;
  const found: Found[] = [];
  const installs = options.install ? [options.install] : await listInstalls(client, settings);
  for (const install of installs) {
    if (install === LEGACY_INSTALL) continue;
    const objects = await listObjects(client, settings, installDatabasePrefix(settings, database, install), isBackup);
    found.push(...preferEncrypted(objects).map((o) => ({ ...o, install })));
  }
  if (!options.install || options.install === LEGACY_INSTALL) {
    const legacy = await listObjects(client, settings, databasePrefix(settings, database), isBackup);
    found.push(...preferEncrypted(legacy).map((o) => ({ ...o, install: null })));
  }
  const dir = deps.paths.backupDir(database);
  const backups = await mapLimit(found, HEAD_CONCURRENCY, async (object) => {
    const meta = await headObject(client, settings.store.bucket, object.key);
    const pages = object.filename.endsWith(".pages");
    const filename = pages ? object.filename.slice(0, -".pages".length) : object.filename;
    const parsed = parseBackupName(filename);
    if (pages) {
      return {
        filename,
        install: object.install,
        own: object.install === settings.install,
        key: object.key,
        format: 2,
        size: meta?.dbSize ?? 0,
        created_at: parsed?.createdAt ?? "",
        kind: parsed?.kind ?? "scheduled",
        sha256: meta?.dbSha256 ?? null,
        local: existsSync(path.join(dir, filename)),
        encrypted: settings.recipients.length > 0,
        authentication: meta ? authenticate(settings, object.key, meta, { type: "manifest" }) : "unauthenticated",
        incremental: true,
        stored_bytes: object.storedSize,
      } satisfies RemoteBackup;
    }
    return {
      filename: object.filename,
      install: object.install,
      own: object.install === settings.install,
      key: object.key,
      format: object.install === null ? 1 : 2,
      size: meta?.size ?? object.storedSize,
      created_at: parsed?.createdAt ?? "",
      kind: parsed?.kind ?? "backup",
      sha256: meta?.sha256 ?? null,
      local: existsSync(path.join(dir, object.filename)),
      encrypted: object.encrypted,
      authentication: meta ? authenticate(settings, object.key, meta, { type: "database" }) : "unauthenticated",
      stored_bytes: object.storedSize,
    } satisfies RemoteBackup;
  });
  backups.sort(
    (a, b) =>
      b.created_at.localeCompare(a.created_at) ||
      b.filename.localeCompare(a.filename) ||
      Number(b.own) - Number(a.own) ||
      (a.install ?? "").localeCompare(b.install ?? ""),
  );
  // This install's figures from its last measurement (no extra listing); another install's are not measured here.
  const bucket = await bucketTotals(deps, settings, database);
  return { database, install: settings.install, backups, bucket };
}

/** The name a request uses for format-1 copies, which have no install. */
export const LEGACY_INSTALL = "legacy";

/** One object per backup name within one folder: the encrypted one when both spellings exist. */
function preferEncrypted(objects: RemoteObject[]): RemoteObject[] {
  const byName = new Map<string, RemoteObject>();
  for (const object of objects) {
    const seen = byName.get(object.filename);
    if (!seen || (object.encrypted && !seen.encrypted)) byName.set(object.filename, object);
  }
  return [...byName.values()];
}

async function mapLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

export type BackupOffsite = ReturnType<typeof publicState> | { state: OffsiteStateName };

/** The `offsite` field of each listed backup: `disabled` when the feature is off, `pending` before any attempt. */
export async function offsiteOfBackups(
  deps: ServiceDeps,
  database: string,
  filenames: string[],
): Promise<Map<string, BackupOffsite>> {
  const dir = deps.paths.backupDir(database);
  const states = new Map<string, BackupOffsite>();
  for (const filename of filenames) {
    if (!deps.offsite) {
      states.set(filename, { state: "disabled" });
      continue;
    }
    const record = await readRecord(dir, filename);
    states.set(filename, record ? publicState(record) : { state: "pending" });
  }
  return states;
}

/** The uploads captured with the newest backup's off-site copy: its state and the manifest's counts. */
export interface UploadsOffsite {
  /** The newest backup's copy state (its uploads go with it); `none` without backups. */
  state: OffsiteStateName | "none";
  /** Of the newest done copy's manifest; 0 when no copy captured uploads yet. */
  files: number;
  bytes: number;
  skipped: number;
}

/** Copies not done and copies failed, per database, and the uploads' off-site state: what `/status` shows. */
export async function offsiteCounts(
  deps: ServiceDeps,
  database: string,
): Promise<{ pending: number; failed: number; uploads: UploadsOffsite; bucket: BucketTotals | null }> {
  const backups = await listBackupFiles(deps.paths.backupDir(database));
  const states = await offsiteOfBackups(
    deps,
    database,
    backups.map((b) => b.filename),
  );
  let pending = 0;
  let failed = 0;
  let uploads: UploadsOffsite = { state: "none", files: 0, bytes: 0, skipped: 0 };
  for (const { filename } of backups) {
    const offsite = states.get(filename);
    if (!offsite) continue;
    if (offsite.state === "failed") failed++;
    else if (offsite.state !== "done" && offsite.state !== "disabled") pending++;
    if (uploads.state === "none") uploads = { ...uploads, state: offsite.state };
    const captured = "uploads" in offsite ? offsite.uploads : undefined;
    if (captured && uploads.files === 0 && uploads.skipped === 0 && uploads.bytes === 0) {
      uploads = { state: uploads.state, files: captured.files, bytes: captured.bytes, skipped: captured.skipped };
    }
  }
  const bucket = deps.offsite ? await bucketTotals(deps, deps.offsite.settings, database) : null;
  return { pending, failed, uploads, bucket };
}
