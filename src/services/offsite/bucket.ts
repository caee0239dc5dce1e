import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { OFFSITE_BUCKET_FILE } from "../../db/paths.js";
import { writeFileAtomic } from "../../lib/durable-fs.js";
import { FormatVersionError, versionedJson } from "../../lib/format.js";
import type { BucketUsage } from "../../workers/page-tasks.js";
import type { ServiceDeps } from "../deps.js";
import { installPrefix, type OffsiteSettings } from "./settings.js";

/**
 * What the bucket holds for a database (docs/offsite.md, "What the bucket holds"): measured where the service
 * lists this install's objects anyway (a pack collection) or with two listings after a whole-file copy or a
 * deletion, and kept in `backups/<db>/.offsite-bucket.json`, so /status, metrics and the UI never list the bucket.
 */

const part = z.object({ objects: z.number().int().min(0), bytes: z.number().int().min(0) });

/** `backups/<db>/.offsite-bucket.json` (docs/format.md). */
const usageFormat = versionedJson(
  z.object({
    measured_at: z.string(),
    /** `<prefix>v2/<install>/`: a measurement of another install or prefix (the settings changed) is not shown. */
    root: z.string(),
    copies: part,
    manifests: part,
    packs: part,
    other: part,
  }),
);

type Stored = ReturnType<typeof usageFormat.parse>;

/** The public figures (/status, the off-site list, metrics, the CLI). */
export interface BucketTotals {
  measured_at: string;
  /** Everything this install stores for the database: copies, manifests, packs. */
  bytes: number;
  objects: number;
  copies_bytes: number;
  manifests_bytes: number;
  packs_bytes: number;
  packs: number;
  /** The live database's size now (null when this host has no such database). */
  database_size: number | null;
  /** `bytes / database_size`, two decimals (null without a size). */
  ratio: number | null;
}

const fileOf = (deps: ServiceDeps, database: string) => path.join(deps.paths.backupDir(database), OFFSITE_BUCKET_FILE);

async function readStored(deps: ServiceDeps, database: string): Promise<Stored | null> {
  const file = fileOf(deps, database);
  const text = await readFile(file, "utf8").catch(() => null);
  if (text === null) return null;
  try {
    return usageFormat.parse(text, file);
  } catch (error) {
    // A newer build's file is never rewritten by this one (docs/format.md); a torn one counts as none.
    if (error instanceof FormatVersionError) throw error;
    return null;
  }
}

/**
 * Keeps a measurement unless the file holds a later one (a server and a CLI push may measure at once) or one a
 * newer build wrote. Best effort: a failed write is logged, the figures only wait for the next measurement.
 */
export async function recordBucketUsage(
  deps: ServiceDeps,
  settings: OffsiteSettings,
  database: string,
  usage: BucketUsage,
): Promise<void> {
  const measuredAt = deps.now().toISOString();
  try {
    const previous = await readStored(deps, database);
    if (previous && previous.measured_at > measuredAt) return;
    const stored: Stored = { measured_at: measuredAt, root: installPrefix(settings), ...usage };
    await writeFileAtomic(fileOf(deps, database), usageFormat.serialize(stored), deps.ids);
  } catch (error) {
    deps.logger.warn({ database, operation: "offsite", error: (error as Error).message }, "bucket totals not kept");
  }
}

/** The last measurement of this install's objects of `database`, or null before the first (or after a change of install). */
export async function bucketTotals(
  deps: ServiceDeps,
  settings: OffsiteSettings,
  database: string,
): Promise<BucketTotals | null> {
  const stored = await readStored(deps, database).catch(() => null);
  if (!stored || stored.root !== installPrefix(settings)) return null;
  const { copies, manifests, packs, other } = stored;
  const bytes = copies.bytes + manifests.bytes + packs.bytes + other.bytes;
  const size = deps.registry.exists(database) ? deps.registry.size(database) : null;
  return {
    measured_at: stored.measured_at,
    bytes,
    objects: copies.objects + manifests.objects + packs.objects + other.objects,
    copies_bytes: copies.bytes,
    manifests_bytes: manifests.bytes + other.bytes,
    packs_bytes: packs.bytes,
    packs: packs.objects,
    database_size: size,
    ratio: size ? Math.round((bytes / size) * 100) / 100 : null,
  };
}
