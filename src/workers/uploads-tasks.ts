import { randomBytes } from "node:crypto";
import { type BigIntStats, createReadStream, createWriteStream, type Dirent, type WriteStream } from "node:fs";
import { link, lstat, mkdir, readdir, realpath, rm, utimes } from "node:fs/promises";
import path from "node:path";
import { finished } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import { blobId } from "../lib/offsite-format.js";
import { OrderedWindow } from "../lib/ordered-window.js";
import { createS3Client } from "../lib/s3-client.js";
import {
  type BlobStoreArgs,
  blobPresent,
  downloadTo,
  getBlobFile,
  type ManifestPutArgs,
  manifestCachePath,
  manifestPut,
  putBlobFile,
  readIdentities,
} from "./blob-tasks.js";
import { hashFile, TaskFailure } from "./offsite-tasks.js";
import { LineReader, newestManifest, type PreviousEntry, PreviousManifest, statToken } from "./uploads-previous.js";

/**
 * The uploads of a database (`<data_dir>/databases/<db>/uploads/`) captured with an off-site copy, and brought
 * back on a new host. One worker task each way; files are streamed, the manifest is written line by line to a
 * local file (never held whole), so 10,000 files or one of 2 GiB keep memory bounded.
 */

export const MANIFEST_FORMAT = "chaoscypher-manifest";
export const MANIFEST_VERSION = 1;
const LISTED = 20;

export interface UploadEntry {
  path: string;
  size: number;
  sha256: string;
  mtime: string;
  blob: string;
  /** The file's local identity when captured (`statToken`): lets the next copy skip reading it. */
  stat?: string;
}

export interface CaptureArgs extends BlobStoreArgs {
  uploadsDir: string;
  database: string;
  backup: string;
  /** The backup's `YYYYMMDD_HHMMSS` (the blobs' created-at). */
  createdAt: string;
  /** A file changed less than this long ago is being written: left for the next copy. */
  stableMs: number;
  /** The manifest's object key; its local copy and temp files go under `cacheDir`. */
  manifestKey: string;
  cacheDir: string;
}

export interface CaptureResult {
  files: number;
  bytes: number;
  /** Blobs sent by this capture (the others were stored already). */
  uploaded: number;
  uploadedBytes: number;
  skipped: number;
  /** Files read and hashed by this capture. */
  hashed: number;
  /** Files taken from the previous manifest unread (same path, size, mtime, inode, ctime; blob verified stored). */
  reused: number;
  /** The first skipped paths, with why (`being_written`, `symlink`, `not_a_file`, `changed`). */
  skippedPaths: { path: string; reason: string }[];
  manifest: { key: string; sha256: string; size: number };
}

interface Walked {
  rel: string;
  abs: string;
  skip?: string;
}

/**
 * The tree in path order (a directory's entries sorted as `name/`, so the walk's order is the sorted order of the
 * full paths). Symlinks are never followed (no escape from the dir); names that are not valid paths are skipped.
 */
async function* walk(root: string, rel = ""): AsyncGenerator<Walked> {
  let entries: Dirent[];
  try {
    entries = await readdir(path.join(root, rel), { withFileTypes: true });
  } catch (error) {
    if (rel === "" && (error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  const sortKey = (e: Dirent) => (e.isDirectory() ? `${e.name}/` : e.name);
  entries.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
  for (const entry of entries) {
    const relPath = rel ? `${rel}/${entry.name}` : entry.name;
    const abs = path.join(root, relPath);
    if (entry.isSymbolicLink()) yield { rel: relPath, abs, skip: "symlink" };
    else if (entry.isDirectory()) yield* walk(root, relPath);
    else if (!entry.isFile()) yield { rel: relPath, abs, skip: "not_a_file" };
    else if (!isContainedPath(relPath)) yield { rel: relPath, abs, skip: "invalid_name" };
    else yield { rel: relPath, abs };
  }
}

/** A manifest path: relative, `/`-separated, no empty, `.` or `..` segment, no NUL or backslash. */
export function isContainedPath(rel: string): boolean {
  if (rel === "" || rel.startsWith("/") || /[\0\\]/.test(rel) || rel.includes("\uFFFD")) return false;
  return rel.split("/").every((segment) => segment !== "" && segment !== "." && segment !== "..");
}

function writeLine(out: WriteStream, value: unknown): Promise<void> | undefined {
  if (out.write(`${JSON.stringify(value)}\n`)) return undefined;
  return new Promise<void>((resolve) => out.once("drain", () => resolve()));
}

async function closeStream(out: WriteStream): Promise<void> {
  out.end();
  await finished(out);
}

/** Task: every settled file stored as a blob (once per install), then the manifest naming them (I1: blobs first). */
export async function captureUploads(args: CaptureArgs): Promise<CaptureResult> {
  const client = createS3Client(args.store);
  const tmp = path.join(args.cacheDir, ".tmp");
  await mkdir(tmp, { recursive: true });
  const stem = path.join(tmp, `${args.backup}.uploads-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    const result = await captureEntries(client, args, `${stem}.entries`);
    const header = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      type: "uploads",
      install: args.install,
      database: args.database,
      backup: args.backup,
      created_at: new Date().toISOString(),
      entries: result.files,
      skipped: result.skipped,
    };
    const out = createWriteStream(stem, { flags: "wx", mode: 0o600 });
    await writeLine(out, header);
    for await (const chunk of createReadStream(`${stem}.entries`)) {
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
    }
    await closeStream(out);
    const put: ManifestPutArgs = {
      ...args,
      file: stem,
      objectKey: args.manifestKey,
      kind: "uploads",
      createdAt: args.createdAt,
    };
    const manifest = await manifestPut(put);
    return { ...result, manifest: { key: args.manifestKey, ...manifest } };
  } finally {
    client.destroy();
    await rm(`${stem}.entries`, { force: true });
    await rm(stem, { force: true });
  }
}

/** Files stored side by side (latency-bound: a HEAD and a PUT each); a large file also waits for the large one before. */
const WIDTH = 8;
const LARGE = 1024 * 1024;

type Outcome = Captured | { rel: string; skip: string };

async function captureEntries(
  client: S3Client,
  args: CaptureArgs,
  entriesFile: string,
): Promise<Omit<CaptureResult, "manifest">> {
  const result: Omit<CaptureResult, "manifest"> = {
    files: 0,
    bytes: 0,
    uploaded: 0,
    uploadedBytes: 0,
    skipped: 0,
    hashed: 0,
    reused: 0,
    skippedPaths: [],
  };
  const out = createWriteStream(entriesFile, { flags: "wx", mode: 0o600 });
  // Manifest lines in walk order, whatever order the files finish in (the next copy reads them in that order).
  const window = new OrderedWindow<Outcome>(WIDTH, (outcome) => account(result, outcome, out));
  const previousFile = await newestManifest(path.dirname(manifestCachePath(args, args.cacheDir, args.manifestKey)));
  const previous = await PreviousManifest.open(previousFile, args.database);
  // Memory stays near WIDTH small files plus one upload part: large files are sent one at a time.
  let large: Promise<unknown> = Promise.resolve();
  try {
    for await (const item of walk(args.uploadsDir)) {
      const settled = item.skip ? item.skip : await settledFile(args, item);
      if (typeof settled === "string") {
        await window.push(async () => ({ rel: item.rel, skip: settled }));
        continue;
      }
      const prev = await previous?.find(item.rel);
      const isLarge = settled.size >= LARGE;
      if (isLarge) await large.catch(() => undefined);
      const { done } = await window.push(() => captureFile(client, args, item, settled, prev));
      if (isLarge) large = done;
    }
    await window.drain();
  } catch (error) {
    await window.settle();
    throw error;
  } finally {
    await previous?.close();
    await closeStream(out);
  }
  return result;
}

function account(result: Omit<CaptureResult, "manifest">, outcome: Outcome, out: WriteStream) {
  if ("skip" in outcome) {
    result.skipped++;
    if (result.skippedPaths.length < LISTED) result.skippedPaths.push({ path: outcome.rel, reason: outcome.skip });
    return;
  }
  result.files++;
  result.bytes += outcome.entry.size;
  if (outcome.reused) result.reused++;
  else result.hashed++;
  if (outcome.uploaded) {
    result.uploaded++;
    result.uploadedBytes += outcome.entry.size;
  }
  return writeLine(out, outcome.entry);
}

type Captured = { entry: UploadEntry; uploaded: boolean; reused: boolean };

/** A regular file whose size, mtime and ctime have not changed for `stableMs`; else why it waits. */
async function settledFile(args: CaptureArgs, item: Walked): Promise<BigIntStats | string> {
  const before = await lstat(item.abs, { bigint: true }).catch(() => null);
  if (!before?.isFile()) return "not_a_file";
  if (Date.now() - Math.max(Number(before.mtimeMs), Number(before.ctimeMs)) < args.stableMs) return "being_written";
  return before;
}

/**
 * One settled file: taken unread from the previous manifest when it is unchanged, else hashed and stored; a
 * reason when it changed meanwhile.
 */
async function captureFile(
  client: S3Client,
  args: CaptureArgs,
  item: Walked,
  before: BigIntStats,
  prev: PreviousEntry | null | undefined,
): Promise<Outcome> {
  const changed = { rel: item.rel, skip: "changed" };
  const size = Number(before.size);
  const base = { path: item.rel, size, mtime: before.mtime.toISOString(), stat: statToken(before) };
  const reused = await reuse(client, args, base, prev);
  if (reused) return reused;
  const sha256 = await hashFile(item.abs);
  const after = await lstat(item.abs, { bigint: true }).catch(() => null);
  if (!after || statToken(after) !== base.stat || after.size !== before.size) return changed;
  try {
    const ref = await putBlobFile(client, args, item.abs, args.createdAt, { sha256, size });
    return { entry: entryOf(base, sha256, ref.id), uploaded: ref.uploaded, reused: false };
  } catch (error) {
    // Bytes that changed while they were sent: the upload was aborted; the next copy takes the file.
    if (error instanceof TaskFailure && error.code === "CHECKSUM_MISMATCH") return changed;
    throw error;
  }
}

/**
 * The previous manifest's entry for a file whose path, size, mtime and local identity (inode, ctime) are the same:
 * its bytes were hashed then and are unchanged. I1: the blob it names is used only when `blobPresent` finds it
 * stored and authenticated now (as before any skipped upload), under the shared blob lock held until this
 * manifest is up, so a blob deleted since (retention, by hand) is sent again, never assumed present.
 */
async function reuse(
  client: S3Client,
  args: CaptureArgs,
  base: Omit<UploadEntry, "sha256" | "blob">,
  prev: PreviousEntry | null | undefined,
): Promise<Captured | null> {
  if (!prev?.stat || prev.stat !== base.stat || prev.size !== base.size || prev.mtime !== base.mtime) return null;
  if (typeof prev.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(prev.sha256)) return null;
  const ref = { id: blobId(Buffer.from(args.key, "hex"), prev.sha256), sha256: prev.sha256, size: base.size };
  if (!(await blobPresent(client, args, ref))) return null;
  return { entry: entryOf(base, ref.sha256, ref.id), uploaded: false, reused: true };
}

const entryOf = (base: Omit<UploadEntry, "sha256" | "blob">, sha256: string, blob: string): UploadEntry => ({
  path: base.path,
  size: base.size,
  sha256,
  mtime: base.mtime,
  blob,
  stat: base.stat,
});

export interface RestoreArgs extends BlobStoreArgs {
  manifestKey: string;
  /** The manifest's plaintext SHA-256, from metadata the caller authenticated. */
  manifestSha256: string;
  /** The install that wrote the manifest (its blobs are under its prefix). */
  from: string;
  uploadsDir: string;
  /** Where the manifest is decrypted to (not the uploads dir the app reads). */
  tempDir: string;
}

export interface RestoreResult {
  files: number;
  bytes: number;
  restored: number;
  /** Already here with the same bytes. */
  present: number;
  /** Here with other bytes: kept as they are, not replaced (the operator's to resolve). */
  conflicts: number;
  conflictPaths: string[];
  failed: number;
  failures: { path: string; blob: string; reason: string }[];
}

/**
 * Task: the manifest, then each file it names into the uploads dir, each checked against its SHA-256. A missing or
 * damaged blob is recorded and the others still come back; the caller reports them (422). A different local file
 * is never replaced. An outage stops at once (503).
 */
export async function restoreUploads(args: RestoreArgs): Promise<RestoreResult> {
  const client = createS3Client(args.store);
  const identities = readIdentities(args);
  await mkdir(args.uploadsDir, { recursive: true });
  const root = await realpath(args.uploadsDir);
  await mkdir(args.tempDir, { recursive: true });
  const manifest = path.join(args.tempDir, `manifest.fetch-${process.pid}-${randomBytes(4).toString("hex")}`);
  const result: RestoreResult = {
    files: 0,
    bytes: 0,
    restored: 0,
    present: 0,
    conflicts: 0,
    conflictPaths: [],
    failed: 0,
    failures: [],
  };
  try {
    const got = await downloadTo(
      client,
      args,
      [args.manifestKey],
      { sha256: args.manifestSha256 },
      manifest,
      identities,
    );
    if (got === "missing") throw new TaskFailure("the uploads manifest is missing", "NOT_FOUND");
    let first = true;
    // Line by line from a fixed buffer: a manifest of any number of files costs no more memory than one line.
    const lines = await LineReader.open(manifest);
    // Files fetched side by side (each is a GET's latency); every download streams, so memory stays bounded.
    const window = new OrderedWindow<void>(WIDTH, () => undefined);
    try {
      for (let line = await lines.next(); line !== null; line = await lines.next()) {
        if (line === "" || line === "\r") continue;
        const value = parseLine(line);
        if (first) {
          checkHeader(value);
          first = false;
          continue;
        }
        const entry = toEntry(value);
        await window.push(() => restoreEntry(client, args, root, entry, identities, result));
      }
      await window.drain();
    } catch (error) {
      await window.settle();
      throw error;
    } finally {
      await lines.close();
    }
    if (first) throw invalidManifest("it is empty");
    return result;
  } finally {
    client.destroy();
    await rm(manifest, { force: true });
  }
}

const invalidManifest = (why: string) =>
  new TaskFailure(`the uploads manifest is invalid: ${why}`, "INVALID_COPY", { reason: "invalid_manifest" });

function parseLine(line: string): Record<string, unknown> {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw invalidManifest("a line is not JSON");
  }
}

function checkHeader(h: Record<string, unknown>): void {
  if (h.format !== MANIFEST_FORMAT || h.type !== "uploads") throw invalidManifest("not an uploads manifest");
  if (typeof h.version !== "number" || h.version > MANIFEST_VERSION) {
    throw new TaskFailure(
      `the uploads manifest has version ${String(h.version)}, newer than this build reads`,
      "INVALID_COPY",
      {
        reason: "newer_format",
      },
    );
  }
}

function toEntry(v: Record<string, unknown>): UploadEntry {
  const ok =
    typeof v.path === "string" &&
    isContainedPath(v.path) &&
    Number.isSafeInteger(v.size) &&
    typeof v.sha256 === "string" &&
    /^[0-9a-f]{64}$/.test(v.sha256) &&
    typeof v.blob === "string" &&
    /^[0-9a-f]{64}$/.test(v.blob);
  if (!ok) throw invalidManifest(`an entry is malformed or escapes the uploads dir (${String(v.path).slice(0, 80)})`);
  return v as unknown as UploadEntry;
}

async function restoreEntry(
  client: S3Client,
  args: RestoreArgs,
  root: string,
  entry: UploadEntry,
  identities: ReturnType<typeof readIdentities>,
  result: RestoreResult,
): Promise<void> {
  result.files++;
  result.bytes += entry.size;
  const dest = path.join(root, ...entry.path.split("/"));
  const dir = await containedDir(root, path.dirname(dest));
  if (!dir) {
    conflict(result, entry.path);
    return;
  }
  const existing = await lstat(dest).catch(() => null);
  if (existing) {
    const same = existing.isFile() && existing.size === entry.size && (await hashFile(dest)) === entry.sha256;
    if (same) result.present++;
    else conflict(result, entry.path);
    return;
  }
  const temp = path.join(dir, `.${path.basename(dest)}.fetch-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    await getBlobFile(
      client,
      args,
      { id: entry.blob, sha256: entry.sha256, size: entry.size },
      args.from,
      temp,
      identities,
    );
    await link(temp, dest);
    const mtime = new Date(entry.mtime);
    if (!Number.isNaN(mtime.getTime())) await utimes(dest, mtime, mtime);
    result.restored++;
  } catch (error) {
    const reason = (error as TaskFailure).details?.reason;
    if (reason === "blob_missing" || reason === "blob_damaged") {
      result.failed++;
      if (result.failures.length < LISTED) result.failures.push({ path: entry.path, blob: entry.blob, reason });
      return;
    }
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      conflict(result, entry.path);
      return;
    }
    throw error;
  } finally {
    await rm(temp, { force: true });
  }
}

function conflict(result: RestoreResult, rel: string): void {
  result.conflicts++;
  if (result.conflictPaths.length < LISTED) result.conflictPaths.push(rel);
}

/** The directory made (if needed) and resolved inside `root`; null when a component is a symlink out or a file. */
async function containedDir(root: string, dir: string): Promise<string | null> {
  try {
    await mkdir(dir, { recursive: true });
    const real = await realpath(dir);
    return real === root || real.startsWith(`${root}${path.sep}`) ? real : null;
  } catch {
    return null;
  }
}
