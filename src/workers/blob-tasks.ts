import { createReadStream, createWriteStream, readFileSync } from "node:fs";
import { copyFile, mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { pipeline as pipe, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { AgeDecryptStream, AgeEncryptStream, AgeError, type Identity, parseIdentityFile } from "../lib/age/index.js";
import { isDiskFull } from "../lib/disk-full.js";
import { fsyncFile } from "../lib/durable-fs.js";
import {
  BLOB_ID,
  blobId,
  blobRelativeKey,
  keyId,
  type ObjectClaims,
  objectMetadata,
  verifyMac,
} from "../lib/offsite-format.js";
import { createS3Client, describeStoreError, isStoreError, listPrefix, type StoreSettings } from "../lib/s3-client.js";
import { checksumMismatch, HashingStream, hashFile, storeFailure, TaskFailure } from "./offsite-tasks.js";

/**
 * The worker side of the blob store (src/services/offsite/blobs.ts has the rules and the main-thread API):
 * content-addressed, age-encrypted objects under `<prefix>v2/<install>/blobs/`, and the manifests that name them.
 * Every function streams: memory stays near one multipart part whatever the file's size.
 */

const READ_CHUNK = 1024 * 1024;

/** Where one install's blobs live and how they are written; plain data, so it can be posted to a worker. */
export interface BlobStoreArgs {
  store: StoreSettings;
  prefix: string;
  install: string;
  /** The install's MAC key in hex (blob ids, MACs); never leaves this host. */
  key: string;
  /** Empty: plaintext objects (CHAOSCYPHER_S3_ALLOW_PLAINTEXT). */
  recipients: string[];
  identityFile?: string | undefined;
  partSize: number;
}

/** What a manifest says of one blob: its id and the plaintext's SHA-256 and size. */
export interface BlobRef {
  id: string;
  sha256: string;
  size: number;
}

const macKey = (s: BlobStoreArgs) => Buffer.from(s.key, "hex");

export const blobKeyOf = (s: BlobStoreArgs, id: string, install = s.install, encrypted = s.recipients.length > 0) =>
  `${s.prefix}${blobRelativeKey(install, id, encrypted)}`;

export function readIdentities(s: BlobStoreArgs): Identity[] | null {
  return s.identityFile ? parseIdentityFile(readFileSync(s.identityFile, "utf8")) : null;
}

/** An object's user metadata; null when there is no such object. */
export async function headMetadata(client: S3Client, s: BlobStoreArgs, key: string) {
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: s.store.bucket, Key: key }));
    return head.Metadata ?? {};
  } catch (error) {
    if (describeStoreError(error).failure === "not_found") return null;
    throw storeFailure(error);
  }
}

/**
 * Whether this install already stores these bytes: a blob counts only when its MAC (own key) covers this
 * SHA-256 and size, so a damaged or planted object at the key is written again instead of trusted.
 */
export async function blobPresent(client: S3Client, s: BlobStoreArgs, ref: BlobRef): Promise<boolean> {
  const key = blobKeyOf(s, ref.id);
  const meta = await headMetadata(client, s, key);
  if (!meta) return false;
  const own = macKey(s);
  const verdict = verifyMac(
    new Map([[keyId(own), own]]),
    { keyId: meta["key-id"] ?? null, mac: meta.mac ?? null },
    { ...blobClaims(s, key, meta["created-at"] ?? ""), size: ref.size, sha256: ref.sha256 },
  );
  return verdict === "authenticated" && meta.type === "blob" && meta.install === s.install;
}

function blobClaims(s: BlobStoreArgs, key: string, createdAt: string): Omit<ObjectClaims, "size" | "sha256"> {
  return { key: key.slice(s.prefix.length), type: "blob", install: s.install, kind: "blob", createdAt };
}

/**
 * Stores a file as a blob unless an authenticated one with its bytes is there (then nothing is sent). `known`
 * skips the first read when the caller hashed the file already; bytes that change meanwhile fail the upload
 * (CHECKSUM_MISMATCH) before it completes.
 */
export async function putBlobFile(
  client: S3Client,
  s: BlobStoreArgs,
  file: string,
  createdAt: string,
  known?: Omit<BlobRef, "id">,
): Promise<BlobRef & { uploaded: boolean }> {
  const size = known?.size ?? (await stat(file)).size;
  const sha256 = known?.sha256 ?? (await hashFile(file));
  const ref = { id: blobId(macKey(s), sha256), sha256, size };
  if (await blobPresent(client, s, ref)) return { ...ref, uploaded: false };
  const key = blobKeyOf(s, ref.id);
  const metadata = objectMetadata(macKey(s), { ...blobClaims(s, key, createdAt), size, sha256 });
  await uploadFile(client, s, file, key, { sha256, size, metadata });
  return { ...ref, uploaded: true };
}

/** file → SHA-256 check → age → lib-storage (multipart or one PutObject of a buffer: s3rver-safe). */
export async function uploadFile(
  client: S3Client,
  s: BlobStoreArgs,
  file: string,
  key: string,
  facts: { sha256: string; size: number; metadata: Record<string, string> },
): Promise<void> {
  const hasher = new HashingStream(facts.sha256);
  const plain = createReadStream(file, { highWaterMark: READ_CHUNK });
  plain.on("error", (error) => hasher.destroy(error));
  plain.pipe(hasher);
  const body: Readable = s.recipients.length > 0 ? pipe(hasher, new AgeEncryptStream(s.recipients), () => {}) : hasher;
  const upload = new Upload({
    client,
    params: {
      Bucket: s.store.bucket,
      Key: key,
      Body: body,
      ContentType: "application/octet-stream",
      Metadata: facts.metadata,
    },
    partSize: Math.max(s.partSize, Math.ceil(facts.size / 9000)),
    queueSize: 1,
    leavePartsOnError: false,
  });
  try {
    await upload.done();
  } catch (error) {
    if (hasher.mismatch) throw checksumMismatch(facts.sha256, hasher.digest ?? "");
    if (isStoreError(error)) throw storeFailure(error);
    throw error;
  } finally {
    plain.destroy();
    hasher.destroy();
  }
}

/**
 * Object → age → SHA-256 → `dest` (a new file, fsynced). "missing" when neither spelling of the key exists; a
 * wrong identity, a damaged stream or bytes that do not hash to `expected` throw INVALID_COPY; the caller
 * removes `dest` on any failure.
 */
export async function downloadTo(
  client: S3Client,
  s: BlobStoreArgs,
  keys: string[],
  expected: { sha256: string; size?: number },
  dest: string,
  identities: Identity[] | null,
): Promise<"ok" | "missing"> {
  for (const key of keys) {
    let body: Readable;
    try {
      body = (await client.send(new GetObjectCommand({ Bucket: s.store.bucket, Key: key }))).Body as Readable;
    } catch (error) {
      if (describeStoreError(error).failure === "not_found") continue;
      throw storeFailure(error);
    }
    const hasher = new HashingStream(expected.sha256);
    const out = createWriteStream(dest, { flags: "wx", mode: 0o600 });
    try {
      if (!key.endsWith(".age")) await pipeline(body, hasher, out);
      else if (!identities) throw new TaskFailure("no age identity file is configured", "NO_IDENTITY");
      else await pipeline(body, new AgeDecryptStream(identities), hasher, out);
    } catch (error) {
      throw downloadError(error);
    }
    if (expected.size !== undefined && hasher.bytes !== expected.size) throw damaged("its size does not match");
    await fsyncFile(dest);
    return "ok";
  }
  return "missing";
}

const damaged = (why: string) => new TaskFailure(`damaged: ${why}`, "INVALID_COPY", { reason: "damaged" });

function downloadError(error: unknown): Error {
  if (error instanceof TaskFailure && error.code !== "CHECKSUM_MISMATCH") return error;
  if (error instanceof TaskFailure) return damaged("its SHA-256 does not match");
  if (error instanceof AgeError && error.failure === "no_match") {
    return new TaskFailure("none of the configured age identities can decrypt it", "INVALID_COPY", {
      reason: "wrong_identity",
    });
  }
  if (isDiskFull(error)) return error as Error;
  if (isStoreError(error)) return storeFailure(error);
  return damaged(`it cannot be decrypted (${((error as Error).message ?? "").split("\n")[0]?.slice(0, 120)})`);
}

/** Both spellings of a blob's key (encrypted first): a bucket may hold blobs from before encryption changed. */
export const blobKeys = (s: BlobStoreArgs, id: string, install = s.install) => [
  blobKeyOf(s, id, install, true),
  blobKeyOf(s, id, install, false),
];

/**
 * The blob ids a manifest's JSON lines name: every line's `blob` (a string) and `blobs` (an array of strings).
 * This is the one convention every manifest kind follows, so the collector needs no code of theirs.
 */
export async function* manifestBlobIds(file: string): AsyncGenerator<string> {
  const lines = createInterface({
    input: createReadStream(file, { encoding: "utf8" }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line === "") continue;
    let entry: { blob?: unknown; blobs?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      throw new TaskFailure(`manifest line ${n} is not JSON`, "INVALID_COPY", { reason: "manifest_unreadable" });
    }
    const ids = [entry.blob, ...(Array.isArray(entry.blobs) ? entry.blobs : [])];
    for (const id of ids) if (typeof id === "string" && BLOB_ID.test(id)) yield id;
  }
}

export interface GcArgs extends BlobStoreArgs {
  /** Key endings of the manifests that name blobs (`.uploads`, …), without `.age`. */
  suffixes: string[];
  /** Local plaintext copies of this install's manifests, by key relative to `v2/<install>/` without `.age`. */
  cacheDir: string;
  /** Report what would go without deleting. */
  dryRun?: boolean;
}

export interface GcResult {
  manifests: number;
  blobs: number;
  referenced: number;
  deleted: string[];
}

/**
 * Deletes this install's blobs that no manifest of this install names. Every listing and every manifest must be
 * read first: a store outage or an unreadable manifest throws before anything is deleted (I2: never a blob a
 * kept manifest needs). The caller holds the install's blob lock, so no capture writes blobs meanwhile.
 */
export async function collectBlobGarbage(args: GcArgs): Promise<GcResult> {
  const client = createS3Client(args.store);
  try {
    const root = `${args.prefix}v2/${args.install}/`;
    const blobs = new Map<string, string>();
    for await (const { key } of listPrefix(client, args.store.bucket, `${root}blobs/`, storeFailure)) {
      const id = key.slice(key.lastIndexOf("/") + 1).replace(/\.age$/, "");
      if (BLOB_ID.test(id)) blobs.set(key, id);
    }
    const manifests: string[] = [];
    for await (const { key } of listPrefix(client, args.store.bucket, `${root}db/`, storeFailure)) {
      const bare = key.replace(/\.age$/, "");
      if (args.suffixes.some((suffix) => bare.endsWith(suffix))) manifests.push(key);
      else if (!bare.endsWith(".db")) {
        // A kind this build does not know may name blobs: collecting without it could delete what it needs.
        throw new TaskFailure(`unknown object ${key.slice(args.prefix.length)}: no blob is deleted`, "INVALID_COPY", {
          reason: "manifest_unreadable",
          manifest: key.slice(args.prefix.length),
        });
      }
    }
    const identities = readIdentities(args);
    const referenced = new Set<string>();
    for (const key of manifests) {
      const file = await readableManifest(client, args, key, identities);
      for await (const id of manifestBlobIds(file)) referenced.add(id);
    }
    const deleted: string[] = [];
    for (const [key, id] of blobs) {
      if (referenced.has(id)) continue;
      if (!args.dryRun) {
        await client.send(new DeleteObjectCommand({ Bucket: args.store.bucket, Key: key })).catch((error: unknown) => {
          throw storeFailure(error);
        });
      }
      deleted.push(id);
    }
    return { manifests: manifests.length, blobs: blobs.size, referenced: referenced.size, deleted };
  } finally {
    client.destroy();
  }
}

/**
 * A manifest's plaintext as a local file: the local copy when it hashes to the object's recorded SHA-256, else
 * the object itself decrypted into the cache (needs the identity file). Neither: unreadable, nothing is deleted.
 */
async function readableManifest(
  client: S3Client,
  args: GcArgs,
  key: string,
  identities: Identity[] | null,
): Promise<string> {
  const unreadable = (why: string) =>
    new TaskFailure(
      `manifest ${key.slice(args.prefix.length)} cannot be read (${why}): no blob is deleted`,
      "INVALID_COPY",
      {
        reason: "manifest_unreadable",
        manifest: key.slice(args.prefix.length),
      },
    );
  const meta = await headMetadata(client, args, key);
  const sha256 = meta?.sha256;
  if (!sha256) throw unreadable(meta ? "no recorded SHA-256" : "it disappeared while listed");
  const cached = manifestCachePath(args, args.cacheDir, key);
  if ((await hashFile(cached).catch(() => null)) === sha256) return cached;
  if (key.endsWith(".age") && !identities) throw unreadable("no local copy and no age identity on this host");
  const temp = `${cached}.gc-${process.pid}-${Date.now()}`;
  try {
    await mkdir(path.dirname(cached), { recursive: true });
    const outcome = await downloadTo(client, args, [key], { sha256 }, temp, identities);
    if (outcome === "missing") throw unreadable("it disappeared while listed");
    await rename(temp, cached);
    return cached;
  } catch (error) {
    await rm(temp, { force: true });
    if (error instanceof TaskFailure && error.code === "STORE_UNAVAILABLE") throw error;
    if (error instanceof TaskFailure && error.details?.reason === "manifest_unreadable") throw error;
    throw unreadable((error as Error).message);
  }
}

/** Task: one file stored as a blob (hash, dedupe check, encrypt, upload), off the event loop. */
export interface BlobPutArgs extends BlobStoreArgs {
  file: string;
  createdAt: string;
}

export async function blobPut(args: BlobPutArgs): Promise<BlobRef & { uploaded: boolean }> {
  const client = createS3Client(args.store);
  try {
    return await putBlobFile(client, args, args.file, args.createdAt);
  } finally {
    client.destroy();
  }
}

/** Task: one blob into a new file `dest`, checked against the SHA-256 and size a manifest gives. */
export interface BlobGetArgs extends BlobStoreArgs {
  ref: BlobRef;
  /** The install that wrote the manifest naming it (default: this one). */
  from?: string | undefined;
  dest: string;
}

export async function blobGet(args: BlobGetArgs): Promise<void> {
  const client = createS3Client(args.store);
  try {
    await getBlobFile(client, args, args.ref, args.from ?? args.install, args.dest, readIdentities(args));
  } finally {
    client.destroy();
  }
}

/** A blob into `dest`; a missing or damaged one is named (`blob_missing`, `blob_damaged`, with its id). */
export async function getBlobFile(
  client: S3Client,
  s: BlobStoreArgs,
  ref: BlobRef,
  install: string,
  dest: string,
  identities: Identity[] | null,
): Promise<void> {
  let outcome: "ok" | "missing";
  try {
    outcome = await downloadTo(client, s, blobKeys(s, ref.id, install), ref, dest, identities);
  } catch (error) {
    if (error instanceof TaskFailure && error.details?.reason === "damaged") {
      throw new TaskFailure(`blob ${ref.id} is ${error.message}`, "INVALID_COPY", {
        reason: "blob_damaged",
        blob: ref.id,
      });
    }
    throw error;
  }
  if (outcome === "missing") {
    throw new TaskFailure(`blob ${ref.id} is missing from the store`, "INVALID_COPY", {
      reason: "blob_missing",
      blob: ref.id,
    });
  }
}

/** Task: a manifest's plaintext file uploaded (after all its blobs) and kept as the local copy the collector reads. */
export interface ManifestPutArgs extends BlobStoreArgs {
  file: string;
  /** The object's key; its local copy is `cacheDir/<key relative to v2/<install>/ without .age>`. */
  objectKey: string;
  cacheDir: string;
  kind: string;
  createdAt: string;
}

export async function manifestPut(args: ManifestPutArgs): Promise<{ sha256: string; size: number }> {
  const client = createS3Client(args.store);
  try {
    const size = (await stat(args.file)).size;
    const sha256 = await hashFile(args.file);
    const metadata = objectMetadata(macKey(args), {
      key: args.objectKey.slice(args.prefix.length),
      type: "manifest",
      install: args.install,
      kind: args.kind,
      createdAt: args.createdAt,
      size,
      sha256,
    });
    await uploadFile(client, args, args.file, args.objectKey, { sha256, size, metadata });
    const cached = manifestCachePath(args, args.cacheDir, args.objectKey);
    await mkdir(path.dirname(cached), { recursive: true });
    await copyFile(args.file, `${cached}.tmp`);
    await rename(`${cached}.tmp`, cached);
    return { sha256, size };
  } finally {
    client.destroy();
  }
}

/** Where the local copy of one of this install's manifests is kept. */
export const manifestCachePath = (s: BlobStoreArgs, cacheDir: string, objectKey: string) =>
  path.join(cacheDir, objectKey.slice(`${s.prefix}v2/${s.install}/`.length).replace(/\.age$/, ""));
