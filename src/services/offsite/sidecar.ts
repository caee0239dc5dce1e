import { readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../../lib/durable-fs.js";
import { sidecarPath as backupSidecarPath } from "../backup/records.js";

export const OFFSITE_STATES = ["pending", "uploading", "done", "failed", "disabled"] as const;
export type OffsiteStateName = (typeof OFFSITE_STATES)[number];

const recordSchema = z.object({
  state: z.enum(OFFSITE_STATES),
  key: z.string().optional(),
  at: z.string().optional(),
  error: z.string().optional(),
  attempts: z.number().int().min(0).default(0),
  next_attempt_at: z.string().optional(),
  sha256: z.string().optional(),
});

/** A backup's off-site state, kept in its own file beside it: `backups/<db>/.<filename>.offsite.json`. */
export type OffsiteRecord = z.infer<typeof recordSchema>;

const SUFFIX = ".offsite.json";

/** The lifecycle's naming for another area's sidecar: `.<filename>.offsite.json`, removed with its backup. */
export const sidecarPath = (dir: string, filename: string) => backupSidecarPath(dir, filename, "offsite");

/** Null when there is none; a torn or foreign file counts as none (the copy is simply redone). */
export async function readRecord(dir: string, filename: string): Promise<OffsiteRecord | null> {
  try {
    const parsed = recordSchema.safeParse(JSON.parse(await readFile(sidecarPath(dir, filename), "utf8")));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export async function writeRecord(dir: string, filename: string, record: OffsiteRecord): Promise<void> {
  await writeFileAtomic(sidecarPath(dir, filename), `${JSON.stringify(record)}\n`);
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
  attempts?: number;
  next_attempt_at?: string;
} {
  const { sha256: _sha, ...rest } = record;
  return rest;
}

/**
 * A remote copy still to be deleted after its backup was pruned (retention): `.<filename>.offsite-delete`, kept
 * apart from the records, which go when their backup goes, so the deletion survives a restart.
 */
const TOMBSTONE = ".offsite-delete";

export async function writeTombstone(dir: string, filename: string, keys: string[]): Promise<void> {
  await writeFileAtomic(path.join(dir, `.${filename}${TOMBSTONE}`), `${JSON.stringify({ keys })}\n`);
}

export async function readTombstone(dir: string, filename: string): Promise<string[]> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, `.${filename}${TOMBSTONE}`), "utf8")) as { keys?: unknown };
    return Array.isArray(parsed.keys) ? parsed.keys.filter((k): k is string => typeof k === "string") : [];
  } catch {
    return [];
  }
}

export async function removeTombstone(dir: string, filename: string): Promise<void> {
  await rm(path.join(dir, `.${filename}${TOMBSTONE}`), { force: true });
}

export async function tombstoneNames(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((name) => name.startsWith(".") && name.endsWith(TOMBSTONE))
    .map((name) => name.slice(1, -TOMBSTONE.length));
}
