import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { DeleteObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { packsOfLine } from "../../lib/page-manifest.js";
import { createS3Client, isStoreError, listAll, type StoreSettings } from "../../lib/s3-client.js";
import { storeFailure } from "../offsite-tasks.js";
import { isManifestKey } from "./common.js";

// The packs no kept manifest names, collected; and what a database's objects take in the bucket.

export interface PagesGcArgs {
  store: StoreSettings;
  /** The database's folder of this install (`…/db/<db>/`): every page manifest under it keeps its packs. */
  manifestPrefix: string;
  packPrefix: string;
}

export interface PagesGcResult {
  manifests: number;
  packs: number;
  deleted: number;
  deletedBytes: number;
  keptBytes: number;
  /** What the database's objects of this install take in the bucket once the collection is done. */
  usage: BucketUsage;
}

/** Objects and bytes (as stored: ciphertext) of one part of a database's objects in the bucket. */
export interface UsagePart {
  objects: number;
  bytes: number;
}

/**
 * This install's objects of one database: whole-file copies (`….db[.age]`), manifests (`….db.pages`,
 * `….db.uploads[.age]`), packs, and anything else under its `db/<db>/` folder (a newer build's kind).
 */
export interface BucketUsage {
  copies: UsagePart;
  manifests: UsagePart;
  packs: UsagePart;
  other: UsagePart;
}

/** Sorts listed objects into the parts of `BucketUsage`; `packs` are the kept ones (listed under `packs/<db>/`). */
export function bucketUsage(dbObjects: { key: string; size: number }[], packs: { size: number }[]): BucketUsage {
  const part = () => ({ objects: 0, bytes: 0 });
  const usage: BucketUsage = { copies: part(), manifests: part(), packs: part(), other: part() };
  const add = (to: UsagePart, size: number) => {
    to.objects++;
    to.bytes += size;
  };
  for (const o of dbObjects) {
    if (/\.db(\.age)?$/.test(o.key)) add(usage.copies, o.size);
    else if (/\.db\.(pages|uploads(\.age)?)$/.test(o.key)) add(usage.manifests, o.size);
    else add(usage.other, o.size);
  }
  for (const p of packs) add(usage.packs, p.size);
  return usage;
}

export interface BucketUsageArgs {
  store: StoreSettings;
  /** `…/v2/<install>/db/<db>/`. */
  manifestPrefix: string;
  packPrefix: string;
}

/** Lists the database's objects of this install (two listings, no reads) and totals them. */
export async function offsiteBucketUsage(args: BucketUsageArgs): Promise<BucketUsage> {
  const client = createS3Client(args.store);
  try {
    const objects = await listAll(client, args.store.bucket, args.manifestPrefix);
    return bucketUsage(objects, await listAll(client, args.store.bucket, args.packPrefix));
  } catch (error) {
    if (isStoreError(error)) throw storeFailure(error);
    throw error;
  } finally {
    client.destroy();
  }
}

/**
 * Deletes the packs no manifest of the database names. Every manifest is listed and read first: one that cannot
 * be read (store down, torn listing) ends the run before anything is deleted, so an outage never removes what a
 * kept backup needs. The caller holds the database's page lock, so no copy is between its packs and its manifest.
 */
export async function offsitePagesGc(args: PagesGcArgs): Promise<PagesGcResult> {
  const client = createS3Client(args.store);
  try {
    const listed = await listAll(client, args.store.bucket, args.manifestPrefix);
    const manifests = listed.filter((o) => isManifestKey(o.key));
    const keep = new Set<string>();
    for (const m of manifests) {
      const object = await client.send(new GetObjectCommand({ Bucket: args.store.bucket, Key: m.key }));
      const rl = createInterface({ input: object.Body as Readable, crlfDelay: Infinity });
      let first = true;
      for await (const line of rl) {
        if (first) {
          first = false;
          continue;
        }
        if (line) packsOfLine(line, keep);
      }
    }
    const packs = await listAll(client, args.store.bucket, args.packPrefix);
    let deleted = 0;
    let deletedBytes = 0;
    let keptBytes = 0;
    const kept: { size: number }[] = [];
    for (const p of packs) {
      const id = (p.key.split("/").at(-1) ?? "").replace(/\.age$/, "");
      if (keep.has(id)) {
        keptBytes += p.size;
        kept.push(p);
        continue;
      }
      await client.send(new DeleteObjectCommand({ Bucket: args.store.bucket, Key: p.key }));
      deleted++;
      deletedBytes += p.size;
    }
    return {
      manifests: manifests.length,
      packs: packs.length - deleted,
      deleted,
      deletedBytes,
      keptBytes,
      usage: bucketUsage(listed, kept),
    };
  } catch (error) {
    if (isStoreError(error)) throw storeFailure(error);
    throw error;
  } finally {
    client.destroy();
  }
}
