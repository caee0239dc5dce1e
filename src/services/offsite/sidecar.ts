import { readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { TOMBSTONE_SUFFIX, tombstoneName } from "../../db/paths.js";
import { type FileOps, writeFileAtomic } from "../../lib/durable-fs.js";
import { FormatVersionError, versionedJson } from "../../lib/format.js";
import { sidecarPath as backupSidecarPath } from "../backup/records.js";

export const OFFSITE_STATES = ["pending", "uploading", "done", "failed", "disabled"] as const;
export type OffsiteStateName = (typeof OFFSITE_STATES)[number];

/**
 * Why a copy failed, one word per remedy, so the UI never folds two causes into one message: the store cannot be
 * reached, it refused the credentials, it answered an error, the local bytes no longer match their checksum (never
 * retried on its own), this host's disk is full, or anything else.
 */
export const FAILURE_REASONS = [
  "unreachable",
  "denied",
  "store_error",
  "checksum_mismatch",
  "disk_full",
  "other",
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** `.<filename>.offsite.json` (docs/format.md). */
const recordFormat = versionedJson(
  z.object({
    state: z.enum(OFFSITE_STATES),
    key: z.string().optional(),
    at: z.string().optional(),
    error: z.string().optional(),
    /** Why the last attempt failed (copy.ts `FailureReason`); absent in records of older versions. */
    reason: z.enum(FAILURE_REASONS).optional().catch(undefined),
    attempts: z.number().int().min(0).default(0),
    next_attempt_at: z.string().optional(),
    sha256: z.string().optional(),
    /** The uploads' manifest written with the copy (absent on copies made before uploads were captured). */
    uploads: z
      .object({
        key: z.string(),
        files: z.number().int().min(0),
        bytes: z.number().int().min(0),
        skipped: z.number().int().min(0),
        /** Files read and hashed, and files taken unread from the previous manifest (absent before reuse). */
        hashed: z.number().int().min(0).optional(),
        reused: z.number().int().min(0).optional(),
      })
      .optional(),
    /** What the copy sent to the store (an incremental copy sends only its new pages and its manifest). */
    uploaded_bytes: z.number().int().min(0).optional(),
    /** An incremental copy: its pages and how many of them it uploaded. */
    pages: z.object({ total: z.number().int(), new: z.number().int() }).optional(),
  }),
);

/** A backup's off-site state, kept in its own file beside it: `backups/<db>/.<filename>.offsite.json`. */
export type OffsiteRecord = ReturnType<typeof recordFormat.parse>;

const SUFFIX = ".offsite.json";

/** The lifecycle's naming for another area's sidecar: `.<filename>.offsite.json`, removed with its backup. */
export const sidecarPath = (dir: string, filename: string) => backupSidecarPath(dir, filename, "offsite");

/**
 * Null when there is none; a torn or foreign file counts as none (the copy is simply redone). One a newer
 * build wrote is refused (FormatVersionError): redoing its copy could overwrite what that build uploaded.
 */
export async function readRecord(dir: string, filename: string): Promise<OffsiteRecord | null> {
  const file = sidecarPath(dir, filename);
  try {
    return recordFormat.parse(await readFile(file, "utf8"), file);
  } catch (error) {
    if (error instanceof FormatVersionError) throw error;
    return null;
  }
}

export async function writeRecord(
  dir: string,
  filename: string,
  record: OffsiteRecord,
  ops: Pick<FileOps, "writeFileAtomic"> = { writeFileAtomic },
): Promise<void> {
  await ops.writeFileAtomic(sidecarPath(dir, filename), recordFormat.serialize(record));
}

export async function removeRecord(dir: string, filename: string): Promise<void> {
  await rm(sidecarPath(dir, filename), { force: true });
}

/** The backup filenames that have a sidecar in `dir`, whether or not the backup itself is still there. */
export async function sidecarNames(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((name) => name.startsWith(".") && name.endsWith(SUFFIX))
    .map((name) => name.slice(1, -SUFFIX.length));
}

/** What the backup list shows: the spec's fields, without the bookkeeping. */
export function publicState(record: OffsiteRecord): {
  state: OffsiteStateName;
  key?: string;
  at?: string;
  error?: string;
  reason?: FailureReason;
  attempts?: number;
  next_attempt_at?: string;
  uploads?: { files: number; bytes: number; skipped: number; hashed?: number; reused?: number };
  uploaded_bytes?: number;
  pages?: { total: number; new: number };
} {
  const { sha256: _sha, uploads, ...rest } = record;
  if (!uploads) return rest;
  const { key: _key, ...counts } = uploads;
  return { ...rest, uploads: counts };
}

/**
 * A remote copy still to be deleted after its backup was pruned (retention): `.<filename>.offsite-delete`, kept
 * apart from the records, which go when their backup goes, so the deletion survives a restart. The tombstone
 * exists before the backup's record goes (docs/format.md).
 */
const TOMBSTONE = TOMBSTONE_SUFFIX;
const tombstoneFormat = versionedJson(z.object({ keys: z.array(z.string()).catch([]) }));

export async function writeTombstone(dir: string, filename: string, keys: string[]): Promise<void> {
  await writeFileAtomic(path.join(dir, tombstoneName(filename)), tombstoneFormat.serialize({ keys }));
}

/** The keys it names; a torn one names none (the delete still tries every key spelling of the backup). */
export async function readTombstone(dir: string, filename: string): Promise<string[]> {
  const file = path.join(dir, tombstoneName(filename));
  try {
    return tombstoneFormat.parse(await readFile(file, "utf8"), file).keys;
  } catch (error) {
    if (error instanceof FormatVersionError) throw error;
    return [];
  }
}

export async function removeTombstone(dir: string, filename: string): Promise<void> {
  await rm(path.join(dir, tombstoneName(filename)), { force: true });
}

export async function tombstoneNames(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((name) => name.startsWith(".") && name.endsWith(TOMBSTONE))
    .map((name) => name.slice(1, -TOMBSTONE.length));
}
