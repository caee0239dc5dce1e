import { existsSync } from "node:fs";
import { readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { RECORD, recordName } from "../../db/paths.js";
import { type FileOps, nodeFileOps } from "../../lib/durable-fs.js";
import { FormatError, versionedJson } from "../../lib/format.js";
import { parseBackupName } from "./files.js";

/**
 * What the service knows about a backup file, kept beside it as a hidden sidecar
 * (`backups/<db>/.<filename>.json`), never in app.db. Other areas keep their own sidecars next to it
 * (`.<filename>.<area>.json`, see `sidecarPath`); all of a backup's sidecars go when the backup goes.
 */

const VERIFICATION_STATES = ["pending", "ok", "failed"] as const;
export type VerificationState = (typeof VERIFICATION_STATES)[number];

const verificationSchema = z.object({
  state: z.enum(VERIFICATION_STATES),
  /** ISO time of the last verification; null while none finished. */
  at: z.string().nullable(),
  error: z.string().optional(),
});
export type Verification = z.output<typeof verificationSchema>;

/** Where an uploaded or imported backup came from: its file name on the uploader's side, and when it arrived. */
const sourceSchema = z.object({
  original_name: z.string(),
  uploaded_at: z.string(),
  /** The file's last-modified time on the uploader's side, when the client sent it. */
  modified_at: z.string().optional(),
});
export type BackupSource = z.output<typeof sourceSchema>;

/** `.<filename>.json` (docs/format.md). Loose: a field another area added to it survives a rewrite. */
const recordFormat = versionedJson(
  z.looseObject({
    /** Lowercase hex SHA-256 of the file's bytes when it was written (or first seen). */
    sha256: z.string(),
    size: z.number(),
    created_at: z.string(),
    verification: verificationSchema,
    source: sourceSchema.optional(),
  }),
);

export type BackupRecord = ReturnType<typeof recordFormat.parse>;

export const PENDING: Verification = { state: "pending", at: null };

/** `.<filename>.json`, or `.<filename>.<area>.json` for another area's own sidecar. */
export function sidecarPath(dir: string, filename: string, area?: string): string {
  return path.join(dir, recordName(filename, area));
}

/** Any sidecar of any area: group 1 is the backup filename it belongs to. */
const SIDECAR = RECORD;

/** A record of a version this build does not know is refused (FormatVersionError), never rewritten. */
export async function readRecord(dir: string, filename: string): Promise<BackupRecord | null> {
  const file = sidecarPath(dir, filename);
  try {
    return recordFormat.parse(await readFile(file, "utf8"), file);
  } catch (error) {
    // A torn record cannot exist (atomic writes); an unreadable one is treated as unknown and re-derived.
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || error instanceof FormatError) return null;
    throw error;
  }
}

const queues = new Map<string, Promise<unknown>>();

/** Runs `work` after every earlier update of the same sidecar in this process has finished. */
function serialized<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const next = previous.then(work, work);
  const settled = next.catch(() => undefined);
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return next;
}

/**
 * Merges `patch` into the record (creating it when `patch` is complete), atomically, one update per file at
 * a time. If the backup was deleted meanwhile the record is dropped, so a sidecar never outlives its file.
 */
export function updateRecord(
  dir: string,
  filename: string,
  patch: Partial<BackupRecord>,
  ops: Pick<FileOps, "writeFileAtomic" | "rm"> = nodeFileOps,
): Promise<BackupRecord | null> {
  const file = sidecarPath(dir, filename);
  return serialized(file, async () => {
    const current = await readRecord(dir, filename);
    const next = { ...current, ...patch } as BackupRecord;
    if (!next.sha256 || !existsSync(path.join(dir, filename))) return null;
    await ops.writeFileAtomic(file, recordFormat.serialize(next));
    if (!existsSync(path.join(dir, filename))) {
      await ops.rm(file);
      return null;
    }
    return next;
  });
}

/** Removes every sidecar of one backup (after the backup itself was deleted). */
export async function removeRecords(
  dir: string,
  filename: string,
  ops: Pick<FileOps, "rm"> = nodeFileOps,
): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((name) => SIDECAR.exec(name)?.[1] === filename)
      .map((name) => serialized(path.join(dir, name), () => ops.rm(path.join(dir, name)))),
  );
}

/** Sidecars whose backup is gone (deleted from outside, e.g. by `find … -delete`) are removed. */
export async function removeOrphanRecords(dir: string, names: string[]): Promise<void> {
  const present = new Set(names);
  const orphans = names.filter((name) => {
    const owner = SIDECAR.exec(name)?.[1];
    return owner !== undefined && parseBackupName(owner) !== null && !present.has(owner);
  });
  await Promise.all(orphans.map((name) => rm(path.join(dir, name), { force: true })));
}
