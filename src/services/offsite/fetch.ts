import { existsSync } from "node:fs";
import { mkdir, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { FETCH_TEMP } from "../../db/paths.js";
import { ConflictError, InvalidBackupError, NotFoundError } from "../../errors.js";
import { type FileOps, fsyncFile, removeDatabaseFile } from "../../lib/durable-fs.js";
import type { MacVerdict } from "../../lib/offsite-format.js";
import { abandonedTemp, newTemp, releaseTemp } from "../../lib/temp-names.js";
import { serviceErrorOf, WorkerTaskError } from "../../workers/run.js";
import { type BackupKind, parseBackupName, resolveBackupPath } from "../backup/files.js";
import { ensureFreeSpace } from "../backup/storage.js";
import type { ServiceDeps } from "../deps.js";
import { requireOffsite } from "./access.js";
import { authenticate, keyInstall } from "./auth.js";
import { claimCopy } from "./claim.js";
import { LEGACY_INSTALL } from "./list.js";
import { manifestKey, packPrefix } from "./pages.js";
import { headObject, listInstalls, type RemoteMetadata } from "./remote.js";
import type { OffsiteService } from "./service.js";
import { AGE_SUFFIX, candidateKeys, legacyKeys, ownsKey, STREAMING_WORKER_LIMITS } from "./settings.js";
import { removeTombstone, writeRecord } from "./sidecar.js";
import { findUploadsManifest, type RestoredUploads, restoreUploadsOf } from "./uploads.js";

export interface FetchedBackup {
  database: string;
  filename: string;
  size: number;
  created_at: string;
  kind: BackupKind;
  sha256: string;
  /** The install that wrote the copy; null for a format-1 copy. */
  install: string | null;
  /** `authenticated`, or what was accepted with `acceptUnauthenticated`. */
  authentication: MacVerdict;
  /** With `uploads`: what came back into the database's uploads dir. */
  uploads?: RestoredUploads;
}

export interface FetchOptions {
  /** The install whose copy to fetch (`legacy` for a format-1 copy); default: this install's, else the only one. */
  install?: string | undefined;
  /** Keep a copy whose MAC is missing or does not verify (a format-1 copy, a planted object): the operator's call. */
  acceptUnauthenticated?: boolean | undefined;
  /** Also bring back the uploads of the copy's manifest into the database's uploads dir. */
  uploads?: boolean | undefined;
  /** Bytes of plaintext written so far and the expected total, a few times a second (the CLI's progress). */
  onProgress?: (written: number, total: number) => void;
}

/** A fetch's temp before temp names carried a pid: an older version's leftover. */
const LEGACY_FETCH_TEMP = FETCH_TEMP;

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
  // With the uploads asked for, a backup already here has only its uploads brought back (a retry after a 422).
  const here = existsSync(dest);
  if (here && !options.uploads) throw new ConflictError(`backup "${filename}" is already here`, { filename });
  const { key, meta } = await findObject(service, database, filename, options.install);
  const pages = key.endsWith(".pages");
  if ((key.endsWith(AGE_SUFFIX) || pages) && !service.settings.identityFile) {
    throw new ConflictError(
      "this copy is age-encrypted and no identity is configured: set CHAOSCYPHER_AGE_IDENTITY_FILE",
    );
  }
  const authentication = pages
    ? checkManifest(service, key, meta)
    : checkAuthentication(deps, service, key, meta, options.acceptUnauthenticated === true);
  // The manifest is found and authenticated before anything is fetched: a 404 or 422 changes nothing here.
  const manifest = options.uploads
    ? await findUploadsManifest(service.context, key, options.acceptUnauthenticated === true)
    : null;
  const fetched = here
    ? alreadyHere(service, database, filename, key, meta, authentication)
    : await fetchDatabase(deps, service, { database, filename, dest, key, meta, authentication }, options);
  if (!manifest) return fetched;
  const from = keyInstall(service.settings, key) ?? service.settings.install;
  return { ...fetched, uploads: await restoreUploadsOf(service.context, database, manifest, from) };
}

function alreadyHere(
  service: OffsiteService,
  database: string,
  filename: string,
  key: string,
  meta: RemoteMetadata,
  authentication: MacVerdict,
): FetchedBackup {
  const parsed = parseBackupName(filename);
  return {
    database,
    filename,
    size: meta.size ?? meta.storedSize,
    created_at: parsed?.createdAt ?? "",
    kind: parsed?.kind ?? "backup",
    sha256: meta.sha256 ?? "",
    install: keyInstall(service.settings, key),
    authentication,
  };
}

interface Located {
  database: string;
  filename: string;
  dest: string;
  key: string;
  meta: RemoteMetadata;
  authentication: MacVerdict;
}

/** The database copy into `backups/<db>/`: decrypted to a temp file, kept only when every check passed. */
async function fetchDatabase(
  deps: ServiceDeps,
  service: OffsiteService,
  { database, filename, dest, key, meta, authentication }: Located,
  options: FetchOptions,
): Promise<FetchedBackup> {
  const dir = deps.paths.backupDir(database);
  const pages = key.endsWith(".pages");
  await mkdir(dir, { recursive: true });
  const expectedSize = pages ? Number(meta.dbSize ?? 0) : (meta.size ?? meta.storedSize);
  await ensureFreeSpace(dir, expectedSize, deps.config.backupFreeMarginBytes);
  const temp = newTemp(dir, filename, "fetch", deps.ids);
  const log = deps.logger.child({ database, filename, operation: "offsite_fetch", object: key });
  const started = performance.now();
  log.info({ size: expectedSize }, "off-site fetch started");
  const progress = watchProgress(deps, temp, expectedSize, options.onProgress);
  try {
    const fetched = await (pages
      ? rebuild(deps, service, database, filename, key, meta, temp)
      : fetchWhole(deps, service, key, meta, temp)
    ).catch((error: unknown) => {
      throw fetchError(error);
    });
    if (!fetched.recordedSha256) log.warn("the copy has no recorded SHA-256; kept after validation only");
    await placeWithoutOverwrite(deps.fileOps, temp, dest, filename);
    await deps.fileOps.fsyncDir(dir);
    // Already remote only when the copy is this install's: another's (or a format-1 one) is copied under our key,
    // since its owner may prune it and this install never deletes what it does not own.
    if (ownsKey(service.settings, key)) await recordAlreadyRemote(deps, service, dir, filename, key, fetched.sha256);
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
      install: keyInstall(service.settings, key),
      authentication,
    };
  } catch (error) {
    await removeDatabaseFile(temp, deps.fileOps);
    const durationMs = Math.round(performance.now() - started);
    log.error({ error: (error as Error).message, durationMs, outcome: "failed" }, "off-site fetch failed");
    throw error;
  } finally {
    progress.stop();
    releaseTemp(temp);
  }
}

/**
 * A fetched backup of this install is recorded `done` (already remote) only under its copy claim, with its remote
 * copy still there, and once a deletion retention had queued for it is dropped: the backup is kept here again (I2).
 * Otherwise (a deletion in flight, the store gone meanwhile) it has no record and is copied again like a new one.
 */
async function recordAlreadyRemote(
  deps: ServiceDeps,
  service: OffsiteService,
  dir: string,
  filename: string,
  key: string,
  sha256: string,
): Promise<void> {
  let claim = claimCopy(dir, filename);
  for (let waited = 0; !claim && waited < CLAIM_WAIT_MS; waited += 50) {
    await deps.clock.sleep(50);
    claim = claimCopy(dir, filename);
  }
  if (!claim) return;
  try {
    if (!(await headObject(service.client, service.settings.store.bucket, key).catch(() => null))) return;
    await removeTombstone(dir, filename);
    await writeRecord(
      dir,
      filename,
      { state: "done", key, at: deps.now().toISOString(), attempts: 0, sha256 },
      deps.fileOps,
    );
  } finally {
    claim.release();
  }
}

/** How long a fetch waits for a remote deletion of the same backup to end before it leaves the record to a copy. */
const CLAIM_WAIT_MS = 10_000;

/** Own copy first, then a format-1 one, then another install's when exactly one has it. */
async function findObject(
  service: OffsiteService,
  database: string,
  filename: string,
  install: string | undefined,
): Promise<{ key: string; meta: RemoteMetadata }> {
  const { settings } = service;
  const first = async (keys: string[]) => {
    for (const key of keys) {
      const meta = await headObject(service.client, settings.store.bucket, key);
      if (meta) return { key, meta };
    }
    return null;
  };
  const notFound = () =>
    new NotFoundError(`no off-site copy of "${filename}" in database ${database}`, { filename, install });
  if (install === LEGACY_INSTALL) return (await first(legacyKeys(settings, database, filename))) ?? throwIt(notFound());
  const withPages = (i = settings.install) => [
    ...candidateKeys(settings, database, filename, i),
    manifestKey(settings, database, filename, i),
  ];
  if (install) return (await first(withPages(install))) ?? throwIt(notFound());
  const mine = (await first(withPages())) ?? (await first(legacyKeys(settings, database, filename)));
  if (mine) return mine;
  const others: { key: string; meta: RemoteMetadata; install: string }[] = [];
  for (const other of await listInstalls(service.client, settings)) {
    if (other === settings.install) continue;
    const hit = await first(withPages(other));
    if (hit) others.push({ ...hit, install: other });
  }
  if (others.length > 1) {
    throw new ConflictError(
      `several installs have a copy of "${filename}" (${others.map((o) => o.install).join(", ")}): choose one with install`,
      { filename, installs: others.map((o) => o.install) },
    );
  }
  return others[0] ?? throwIt(notFound());
}

const throwIt = (error: Error): never => {
  throw error;
};

/**
 * A copy is kept only when its MAC verifies with a trusted key, unless the operator accepts it explicitly (a
 * format-1 copy has none; anyone who can write to the bucket can plant an object encrypted to the public recipient).
 */
function checkAuthentication(
  deps: ServiceDeps,
  service: OffsiteService,
  key: string,
  meta: RemoteMetadata,
  accept: boolean,
): MacVerdict {
  const verdict = authenticate(service.settings, key, meta, { type: "database" });
  if (verdict === "authenticated") return verdict;
  const install = keyInstall(service.settings, key);
  if (!accept) {
    throw new InvalidBackupError(
      `the off-site copy cannot be authenticated (${verdict}): no install whose key this host trusts wrote it. ` +
        "Give this host that install's recovery kit, or accept it explicitly (accept_unauthenticated=true, " +
        "--accept-unauthenticated) if you know where it came from",
      { reason: verdict, install },
    );
  }
  deps.logger.warn({ object: key, install, authentication: verdict }, "unauthenticated off-site copy accepted");
  return verdict;
}

/**
 * A page manifest is always authenticated (no override): a planted manifest could name anything. Its MAC covers
 * its key, its claims and its SHA-256; the rebuild checks the downloaded manifest against that hash.
 */
function checkManifest(service: OffsiteService, key: string, meta: RemoteMetadata): MacVerdict {
  const verdict = authenticate(service.settings, key, meta, { type: "manifest" });
  if (verdict !== "authenticated") {
    throw new InvalidBackupError(`the off-site page manifest cannot be authenticated (${verdict})`, {
      reason: verdict,
      install: keyInstall(service.settings, key),
    });
  }
  return verdict;
}

/**
 * A whole-file copy: downloaded and decrypted into `temp` by one worker (the store and the cipher keep both cores
 * busy then), then its SHA-256 and the integrity_check read it side by side, a core each, while its last bytes are
 * flushed. A SHA-256 that is not the authenticated one is the refusal that names the cause, whatever the
 * integrity_check found.
 */
async function fetchWhole(
  deps: ServiceDeps,
  service: OffsiteService,
  key: string,
  meta: RemoteMetadata,
  temp: string,
): Promise<{ sha256: string; size: number; recordedSha256: string | null }> {
  const { settings } = service;
  const fetched = await deps.tasks.run(
    "offsiteFetch",
    {
      store: settings.store,
      key,
      temp,
      identityFile: settings.identityFile,
      expectedSha256: meta.sha256,
      hash: false,
      sync: false,
    },
    { resourceLimits: STREAMING_WORKER_LIMITS },
  );
  // The last unflushed MiBs go to disk while the checks read them from the page cache; the file is placed only
  // after all three.
  const [hashed, validated, synced] = await Promise.allSettled([
    deps.tasks.run("hashFile", { file: temp }),
    validate(deps, temp),
    fsyncFile(temp),
  ]);
  if (hashed.status === "rejected") throw hashed.reason;
  if (synced.status === "rejected") throw synced.reason;
  const { sha256, size } = hashed.value;
  const recorded = fetched.recordedSha256;
  if (recorded !== null && sha256 !== recorded) {
    // The worker's own failure, so that the one mapping (fetchError) says it as for a rebuild.
    throw new WorkerTaskError("the file's SHA-256 does not match its record", "CHECKSUM_MISMATCH", {
      expected: recorded,
      actual: sha256,
    });
  }
  if (validated.status === "rejected") throw validated.reason;
  return { sha256, size, recordedSha256: recorded };
}

/** An incremental copy: its packs are fetched and its pages written in place, in a worker; then validated. */
async function rebuild(
  deps: ServiceDeps,
  service: OffsiteService,
  database: string,
  filename: string,
  key: string,
  meta: RemoteMetadata,
  temp: string,
): Promise<{ sha256: string; size: number; recordedSha256: string }> {
  const { settings } = service;
  const install = keyInstall(settings, key) ?? settings.install;
  const macKey = settings.trusted.get(meta.keyId ?? "") as Buffer;
  const result = await deps.tasks.run(
    "offsitePagesRebuild",
    {
      store: settings.store,
      manifestKey: key,
      manifestSha256: meta.sha256 ?? "",
      key: macKey.toString("hex"),
      packPrefix: packPrefix(settings, database, install),
      identityFile: settings.identityFile,
      temp,
      backup: filename,
      database,
    },
    { resourceLimits: STREAMING_WORKER_LIMITS },
  );
  await validate(deps, temp);
  return { sha256: result.sha256, size: result.size, recordedSha256: result.sha256 };
}

/** A hard link fails when the name is taken, so a fetch racing another never replaces a backup. */
async function placeWithoutOverwrite(ops: FileOps, temp: string, dest: string, filename: string): Promise<void> {
  try {
    await ops.link(temp, dest);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new ConflictError(`backup "${filename}" is already here`, { filename });
    }
    throw error;
  }
  await ops.rm(temp);
}

/** Restore step 1's checks, on the decrypted temp file. */
async function validate(deps: ServiceDeps, file: string): Promise<void> {
  const newestKnownMillis = deps.migrations.at(-1)?.when ?? 0;
  const result = await deps.tasks.run("validateBackup", { file, newestKnownMillis });
  if (!result.ok) throw new InvalidBackupError(result.message, { reason: result.reason });
}

function fetchError(error: unknown): Error {
  return serviceErrorOf(error, {
    NOT_FOUND: "the off-site copy disappeared while it was fetched",
    CHECKSUM_MISMATCH: "the fetched copy's SHA-256 does not match the one recorded with it",
  });
}

/** Polls the temp file's size on the main thread: the worker stays a plain task with one result. */
function watchProgress(
  deps: ServiceDeps,
  temp: string,
  total: number,
  onProgress: FetchOptions["onProgress"],
): { stop(): void } {
  if (!onProgress) return { stop() {} };
  const timer = deps.clock.setInterval(() => {
    stat(temp).then(
      (info) => onProgress(info.size, total),
      () => {},
    );
  }, 200);
  return { stop: () => clearInterval(timer) };
}

/** Leftovers of a fetch cut off by a crash, removed when the service starts; never a live process's (I4). */
export async function removeFetchLeftovers(dir: string, ops: Pick<FileOps, "rm">): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (LEGACY_FETCH_TEMP.test(name) || abandonedTemp(dir, name, "fetch")) {
      await removeDatabaseFile(path.join(dir, name), ops);
    }
  }
}
